"""Start a daemon for a test, wait until it answers, stop it afterwards."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path


@contextlib.contextmanager
def running(
    argv: Sequence[str], log_path: Path, ready: Callable[[], bool], *, timeout: float = 60
) -> Iterator[subprocess.Popen[bytes]]:
    """`argv` in its own session, output to `log_path`; yields once `ready()`,
    raises with the log's tail if it dies or never answers; SIGTERM on exit."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            list(argv), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + timeout
            while not ready():
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"{Path(argv[0]).name} did not start: {tail}")
                time.sleep(0.1)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
