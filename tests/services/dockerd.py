"""A private, real Docker engine for tests (never the system one).

`running_dockerd(directory)` starts Debian's dockerd with its own socket,
data root, exec root and pidfile, no bridge and no iptables, as root only
(the caller skips otherwise), and stops it on exit. Docker allows plain-HTTP
registries on 127.0.0.0/8 without configuration (registry
`insecure-registries` defaults to 127.0.0.0/8), so it pulls from a loopback
docker-registry as it is.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.services.daemon import running

DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"


def available() -> str | None:
    """Why a private dockerd cannot run here (None when it can)."""
    if os.geteuid() != 0:
        return "a private dockerd needs root"
    if not Path(DOCKERD).exists():
        return "dockerd is not installed (Debian package docker.io)"
    return None


@dataclass(frozen=True)
class Dockerd:
    socket: Path
    root: Path
    pid: int

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"


@contextlib.contextmanager
def running_dockerd(directory: Path) -> Iterator[Dockerd]:
    # unix socket paths are limited to 108 bytes: keep the socket short
    directory.mkdir(parents=True, exist_ok=True)
    sock_dir = Path(f"/tmp/mbx-dockerd-{os.getpid()}-{abs(hash(directory)) % 10**8}")
    sock_dir.mkdir(mode=0o700, exist_ok=True)
    sock = sock_dir / "docker.sock"
    argv = [
        DOCKERD,
        "--host",
        f"unix://{sock}",
        "--data-root",
        str(directory / "root"),
        "--exec-root",
        str(sock_dir / "exec"),
        "--pidfile",
        str(directory / "docker.pid"),
        "--bridge",
        "none",
        "--iptables=false",
        "--ip6tables=false",
        "--containerd-namespace",
        f"mbx{os.getpid()}",
        "--containerd-plugins-namespace",
        f"mbx{os.getpid()}p",
    ]

    def ready() -> bool:
        import docker

        try:
            return bool(
                sock.exists() and docker.APIClient(base_url=f"unix://{sock}", timeout=5).ping()
            )
        except Exception:
            return False

    try:
        with running(argv, directory / "dockerd.log", ready) as proc:
            yield Dockerd(sock, directory / "root", proc.pid)
    finally:
        shutil.rmtree(sock_dir, ignore_errors=True)
