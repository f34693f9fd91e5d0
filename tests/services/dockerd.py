"""A private, real Docker engine for tests (never the system one).

`running_dockerd()` starts Debian's dockerd with its own socket, data root,
exec root and pidfile, no bridge and no iptables (nothing on the host
changes), as root only (`available()` says why not; callers skip), and stops
it on exit. Its data lives under `directory` when one is given (a pytest
tmp path), else in a temporary directory removed afterwards.

Docker allows plain-HTTP registries on 127.0.0.0/8 without configuration
(moby registry/config.go: loopback is always an insecure registry), so it
pulls from a loopback docker-registry or the room server as they are.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.services.daemon import directories, running

DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"
DOCKER = shutil.which("docker") or "/usr/bin/docker"

_started = itertools.count()


def available() -> str | None:
    """Why a private dockerd cannot run here (None when it can)."""
    if os.geteuid() != 0:
        return "a private dockerd needs root"
    if not (Path(DOCKERD).exists() and Path(DOCKER).exists()):
        return "dockerd/docker are not installed (Debian package docker.io)"
    return None


@dataclass(frozen=True)
class Dockerd:
    socket: Path
    root: Path  # --data-root
    pid: int
    client: Any  # docker.DockerClient on `socket`

    @property
    def host(self) -> str:
        """For DOCKER_HOST or docker.DockerClient(base_url=…)."""
        return f"unix://{self.socket}"

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """The real docker CLI against this engine."""
        return subprocess.run(
            [DOCKER, *args],
            env={"PATH": os.environ.get("PATH", ""), "DOCKER_HOST": self.host, "HOME": "/root"},
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@contextlib.contextmanager
def running_dockerd(directory: Path | None = None) -> Iterator[Dockerd]:
    import docker

    with directories("mbx-dockerd-", directory, available()) as (short, data):
        sock = short / "docker.sock"
        # A dockerd that finds the system containerd (/run/containerd) uses it
        # (moby cmd/dockerd daemon.go, initContainerd): namespaces of its own
        # keep its images and containers apart from the system engine's.
        namespace = f"mbx{os.getpid()}-{next(_started)}"
        argv = [
            DOCKERD,
            "--host",
            f"unix://{sock}",
            "--data-root",
            str(data / "root"),
            "--exec-root",
            str(short / "exec"),
            "--pidfile",
            str(short / "docker.pid"),
            "--bridge",
            "none",
            "--iptables=false",
            "--ip6tables=false",
            "--containerd-namespace",
            namespace,
            "--containerd-plugins-namespace",
            f"{namespace}p",
        ]
        clients: list[Any] = []  # the client that answered, once one has

        def ready() -> bool:
            if not sock.exists():
                return False
            try:
                # the client asks the engine its API version as it is made
                client = docker.DockerClient(base_url=f"unix://{sock}", timeout=300)
                clients.append(client)
                return bool(client.ping())
            except docker.errors.DockerException:
                return False

        try:
            with running(argv, data / "dockerd.log", ready) as proc:
                yield Dockerd(sock, data / "root", proc.pid, clients[-1])
        finally:
            for client in clients:
                client.close()
