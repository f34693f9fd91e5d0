"""A private, real containerd for tests (never the system one): its own
socket, root, state and config (the CRI plugin off: no CNI, no kubelet), as
root only (`available()` says why not; callers skip), stopped on exit. The
real `ctr --address SOCKET` talks to it, as `ctr` inside a kind node talks
to the node's. Its content lives under `directory` when one is given, else
in a temporary directory removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.services.daemon import directories, running

CONTAINERD = shutil.which("containerd") or "/usr/bin/containerd"
CTR = shutil.which("ctr") or "/usr/bin/ctr"
NAMESPACE = "k8s.io"  # the namespace the kubelet's images are in, on a kind node


def available() -> str | None:
    """Why a private containerd cannot run here (None when it can)."""
    if os.geteuid() != 0:
        return "a private containerd needs root"
    if not (Path(CONTAINERD).exists() and Path(CTR).exists()):
        return "containerd/ctr are not installed (Debian package containerd)"
    return None


@dataclass(frozen=True)
class Containerd:
    socket: Path

    def ctr_argv(self, namespace: str = NAMESPACE) -> list[str]:
        """`ctr` against this containerd, without a subcommand."""
        return [CTR, "--address", str(self.socket), "--namespace", namespace]

    def ctr(
        self, *args: str, namespace: str = NAMESPACE, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run the real `ctr` against this containerd."""
        return subprocess.run(
            [*self.ctr_argv(namespace), *args], capture_output=True, text=True, timeout=timeout
        )

    def image_digests(self, namespace: str = NAMESPACE) -> dict[str, str]:
        """name -> target digest, from `ctr images ls`."""
        found = {}
        for line in self.ctr("images", "ls", namespace=namespace).stdout.splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 3:
                found[fields[0]] = fields[2]
        return found


@contextlib.contextmanager
def running_containerd(directory: Path | None = None) -> Iterator[Containerd]:
    with directories("mbx-ctrd-", directory, available()) as (short, data):
        sock = short / "containerd.sock"
        config = data / "config.toml"
        config.write_text(
            "version = 2\n"
            f'root = "{data / "root"}"\n'
            f'state = "{short / "state"}"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            f'[grpc]\n  address = "{sock}"\n'
            f'[ttrpc]\n  address = "{sock}.ttrpc"\n'
            '[debug]\n  address = ""\n'
            '[metrics]\n  address = ""\n'
        )
        handle = Containerd(sock)

        def ready() -> bool:
            return sock.exists() and handle.ctr("version", timeout=10).returncode == 0

        try:
            with running([CONTAINERD, "--config", str(config)], data / "containerd.log", ready):
                yield handle
        finally:
            # a snapshot left mounted would keep its files from being removed
            subprocess.run(["umount", "-R", str(data / "root")], capture_output=True)
