"""A no-op `up` over a finished 12-step toy pipeline: the engine's own cost.

Two figures: the whole process against `python -c pass` (start-up, imports,
state load, lock, 12 facts reads, 12 state saves), and the in-process time of
Pipeline.up alone.
"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.timing import median_seconds  # noqa: E402
from mboxed.engine import Pipeline  # noqa: E402
from tests.toy import main as toy_main  # noqa: E402
from tests.toy import make_context, toy_steps  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        toy_main(["up", str(home), "12"])  # finish it once
        python = sys.executable
        bare = median_seconds([python, "-c", "pass"], cwd=str(REPO))
        noop = median_seconds([python, "-m", "tests.toy", "up", str(home), "12"], cwd=str(REPO))
        inproc = []
        for _ in range(30):
            ctx = make_context(home, stream=io.StringIO())
            steps = toy_steps(home / "work", 12)
            started = time.perf_counter()
            results = Pipeline(steps).up(ctx)
            inproc.append(time.perf_counter() - started)
            assert {r.outcome for r in results} == {"skipped"}
    print(f"python -c pass                 {bare * 1000:7.1f} ms")
    print(f"no-op up, 12 steps (process)   {noop * 1000:7.1f} ms  (+{(noop - bare) * 1000:.1f} ms)")
    print(f"no-op up, 12 steps (engine)    {statistics.median(inproc) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
