"""`mboxed --help` start-up against `python -c 'import click'`.

The CLI imports command modules lazily, so --help should cost little more
than importing click itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


from benchmarks.timing import median_seconds  # noqa: E402


def main() -> None:
    python = sys.executable
    bare = median_seconds([python, "-c", "pass"])
    click_only = median_seconds([python, "-c", "import click"])
    help_ = median_seconds([python, "-m", "mboxed", "--help"])
    print(f"python -c pass          {bare * 1000:7.1f} ms")
    print(f"python -c 'import click' {click_only * 1000:6.1f} ms")
    extra = (help_ - click_only) * 1000
    print(f"mboxed --help           {help_ * 1000:7.1f} ms  (+{extra:.1f} ms over click)")


if __name__ == "__main__":
    main()
