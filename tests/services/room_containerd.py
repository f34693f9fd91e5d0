"""A PRIVATE containerd for tests: its own config, root, state and socket
under a short temp directory (the CRI plugin off: no CNI, no kubelet), and
the real `ctr` against it. Stopped and removed afterwards. Root only.
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

from tests.services.process import stop

CONTAINERD = shutil.which("containerd")
CTR = shutil.which("ctr")
NAMESPACE = "mboxed-test"


def available() -> str | None:
    if os.geteuid() != 0:
        return "a private containerd needs root"
    if CONTAINERD is None or CTR is None:
        return "containerd/ctr are not installed (Debian: containerd)"
    return None


@dataclass
class Containerd:
    directory: Path
    address: str

    def ctr(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        assert CTR is not None
        return subprocess.run(
            [CTR, "--address", self.address, "--namespace", NAMESPACE, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def image_digests(self) -> dict[str, str]:
        """name -> target digest, from `ctr images ls`."""
        out = self.ctr("images", "ls").stdout.splitlines()[1:]
        found = {}
        for line in out:
            fields = line.split()
            if len(fields) >= 3:
                found[fields[0]] = fields[2]
        return found


@contextlib.contextmanager
def running_containerd() -> Iterator[Containerd]:
    why = available()
    if why is not None:
        raise RuntimeError(why)
    assert CONTAINERD is not None
    directory = Path(tempfile.mkdtemp(prefix="mbx-ctrd-", dir="/tmp"))
    address = str(directory / "containerd.sock")
    config = directory / "config.toml"
    config.write_text(
        "version = 2\n"
        f'root = "{directory / "root"}"\n'
        f'state = "{directory / "state"}"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        "[grpc]\n"
        f'  address = "{address}"\n'
        "[ttrpc]\n"
        f'  address = "{address}.ttrpc"\n'
        "[debug]\n"
        '  address = ""\n'
        "[metrics]\n"
        '  address = ""\n'
    )
    log = (directory / "containerd.log").open("wb")
    proc = subprocess.Popen(
        [CONTAINERD, "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        handle = Containerd(directory, address)
        while True:
            if Path(address).exists() and handle.ctr("version").returncode == 0:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "private containerd did not start: "
                    + (directory / "containerd.log").read_text(errors="replace")[-2000:]
                )
            time.sleep(0.1)
        yield handle
    finally:
        stop(proc, timeout=20)
        log.close()
        # snapshots may still be mounted by nothing now; unmount defensively
        subprocess.run(["umount", "-R", str(directory / "root")], capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)
