"""Median wall time of a command over repeated runs."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence


def median_seconds(
    argv: Sequence[str], runs: int = 15, env: Mapping[str, str] | None = None, cwd: str = "."
) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env, cwd=cwd)
        times.append(time.perf_counter() - started)
    return statistics.median(times)
