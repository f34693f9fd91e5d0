from __future__ import annotations

from mboxed.cli import main

if __name__ == "__main__":
    main()
