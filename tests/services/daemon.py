"""Start a daemon for a test, wait until it answers, stop it afterwards.

Every private test daemon (tests/services/dockerd.py, containerd.py) starts
through `running`; `directories` gives it a place for its sockets, whose
paths unix(7) limits to 108 bytes (pytest's tmp_path is often longer).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path


@contextlib.contextmanager
def directories(
    prefix: str, data: Path | None, unavailable: str | None
) -> Iterator[tuple[Path, Path]]:
    """(short, data) for a daemon: `short` a fresh directory under /tmp for its
    sockets, removed on exit; `data` the caller's, or `short` without one.
    Raises if the daemon is `unavailable` (the reason why)."""
    if unavailable is not None:
        raise RuntimeError(unavailable)
    short = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        data = data if data is not None else short
        data.mkdir(parents=True, exist_ok=True)
        yield short, data
    finally:
        shutil.rmtree(short, ignore_errors=True)


@contextlib.contextmanager
def running(
    argv: Sequence[str],
    log_path: Path,
    ready: Callable[[], bool],
    *,
    timeout: float = 60,
    env: Mapping[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """`argv` in its own session, output to `log_path`; yields once `ready()`,
    raises with the log's tail if it dies or never answers; SIGTERM on exit,
    SIGKILL if it does not stop within 30 seconds."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=None if env is None else dict(env),
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
