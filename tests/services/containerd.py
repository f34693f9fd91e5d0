"""A private, real containerd for tests (never the system one): its own
socket, root, state and config (the CRI plugin off: no kubelet here), as
root only. `ctr --address SOCKET` talks to it, as `ctr` inside a kind node
talks to the node's."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.services.daemon import running

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

    def ready() -> bool:
        argv = [CTR, "--address", str(sock), "version"]
        return subprocess.run(argv, capture_output=True, timeout=10).returncode == 0

    try:
        argv = [CONTAINERD, "--config", str(config)]
        with running(argv, directory / "containerd.log", ready, timeout=30):
            yield Containerd(sock)
    finally:
        shutil.rmtree(sock_dir, ignore_errors=True)
