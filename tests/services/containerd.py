"""A private, real containerd for tests (never the system one): its own
socket, root, state and config (the CRI plugin off: no kubelet here), as
root only. `ctr --address SOCKET` talks to it, as `ctr` inside a kind node
talks to the node's."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CONTAINERD = shutil.which("containerd") or "/usr/bin/containerd"
CTR = shutil.which("ctr") or "/usr/bin/ctr"


def available() -> str | None:
    if os.geteuid() != 0:
        return "a private containerd needs root"
    if not (Path(CONTAINERD).exists() and Path(CTR).exists()):
        return "containerd is not installed (Debian package containerd)"
    return None


@dataclass(frozen=True)
class Containerd:
    socket: Path

    def ctr(self, namespace: str = "k8s.io") -> list[str]:
        return [CTR, "--address", str(self.socket), "--namespace", namespace]


@contextlib.contextmanager
def running_containerd(directory: Path) -> Iterator[Containerd]:
    directory.mkdir(parents=True, exist_ok=True)
    sock_dir = Path(f"/tmp/mbx-ctrd-{os.getpid()}-{abs(hash(directory)) % 10**8}")
    sock_dir.mkdir(mode=0o700, exist_ok=True)
    sock = sock_dir / "containerd.sock"
    config = directory / "config.toml"
    config.write_text(
        "version = 2\n"
        f'root = "{directory / "root"}"\n'
        f'state = "{sock_dir / "state"}"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{sock}"\n'
        f'[ttrpc]\n  address = "{sock}.ttrpc"\n'
    )
    log = (directory / "containerd.log").open("wb")
    proc = subprocess.Popen(
        [CONTAINERD, "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            ready = subprocess.run(
                [CTR, "--address", str(sock), "version"], capture_output=True, timeout=10
            )
            if ready.returncode == 0:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "containerd did not start: "
                    + (directory / "containerd.log").read_text(errors="replace")[-3000:]
                )
            time.sleep(0.1)
        yield Containerd(sock)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(sock_dir, ignore_errors=True)
