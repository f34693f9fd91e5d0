"""A PRIVATE Docker engine for tests: its own socket, data root, exec root and
pid file under a short temp directory, no bridge and no iptables (nothing on
the host changes), stopped and removed afterwards. Never the system dockerd.

Root only (dockerd needs it); `available()` says why not otherwise.
Docker allows plain-HTTP registries on 127.0.0.0/8 without configuration
(moby registry/config.go: loopback is always insecure-allowed), so the
engine pulls from loopback registries and the room server as they are.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.services.process import stop

DOCKERD = shutil.which("dockerd")
DOCKER = shutil.which("docker")


def available() -> str | None:
    if os.geteuid() != 0:
        return "a private dockerd needs root"
    if DOCKERD is None or DOCKER is None:
        return "dockerd/docker are not installed (Debian: docker.io)"
    return None


@dataclass
class Dockerd:
    directory: Path
    host: str  # unix://… for DOCKER_HOST
    client: Any  # docker.DockerClient

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """The real docker CLI against this engine."""
        assert DOCKER is not None
        return subprocess.run(
            [DOCKER, *args],
            env={"PATH": os.environ.get("PATH", ""), "DOCKER_HOST": self.host, "HOME": "/root"},
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@contextlib.contextmanager
def running_dockerd() -> Iterator[Dockerd]:
    import docker

    why = available()
    if why is not None:
        raise RuntimeError(why)
    assert DOCKERD is not None
    # unix socket paths are limited to 107 bytes: pytest's tmp_path is too long
    directory = Path(tempfile.mkdtemp(prefix="mbx-dockerd-", dir="/tmp"))
    sock = directory / "docker.sock"
    log = (directory / "dockerd.log").open("wb")
    proc = subprocess.Popen(
        [
            DOCKERD,
            "--host",
            f"unix://{sock}",
            "--data-root",
            str(directory / "root"),
            "--exec-root",
            str(directory / "exec"),
            "--pidfile",
            str(directory / "docker.pid"),
            "--bridge",
            "none",
            "--iptables=false",
            "--ip6tables=false",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = None
    try:
        deadline = time.monotonic() + 60
        while True:
            if sock.exists():
                try:
                    client = docker.DockerClient(base_url=f"unix://{sock}", timeout=300)
                    client.ping()
                    break
                except Exception:
                    client = None
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "private dockerd did not start: "
                    + (directory / "dockerd.log").read_text(errors="replace")[-2000:]
                )
            time.sleep(0.2)
        yield Dockerd(directory, f"unix://{sock}", client)
    finally:
        if client is not None:
            client.close()
        stop(proc, timeout=30)
        log.close()
        shutil.rmtree(directory, ignore_errors=True)
