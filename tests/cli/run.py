"""Run the real command line, `python -m mboxed`, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def mboxed(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`mboxed ARGS` in this test's environment (plus `env`), from the checkout."""
    return subprocess.run(
        [sys.executable, "-m", "mboxed", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def state_file(deployment: str = "default") -> Path:
    return Path(os.environ["MBOXED_HOME"]) / "state" / deployment / "state.yaml"


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []
