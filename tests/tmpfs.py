"""A real, small filesystem for tests of a full disk: a tmpfs mount (root
only; the test is skipped otherwise), unmounted afterwards."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str = "512k") -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def fill(root: Path, leave: int = 0) -> Path:
    """Fill the filesystem of `root` up to `leave` bytes free (a real ENOSPC)."""
    filler = root / "filler"
    with filler.open("ab", buffering=0) as handle:
        while True:
            free = os.statvfs(root).f_bavail * os.statvfs(root).f_frsize
            if free <= leave:
                break
            try:
                handle.write(b"\0" * min(free - leave, 1 << 16))
            except OSError:
                break
    return filler
