"""minikube's preload as a room holds it (mboxed.mirror.MirrorBuilder
add_preload): the tarball at its upstream path, `<name>.sha256` beside it.
Test bytes, not a real tarball: nothing here unpacks it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mboxed.bundle import host_platform
from mboxed.providers.minikube_preload import preload_release

K8S = "v1.31.0"  # the profiles' Kubernetes version
HOST_ARCH = host_platform().partition("/")[2]


def preload_bytes(arch: str = HOST_ARCH, k8s: str = K8S) -> bytes:
    return f"lz4 frames of the {k8s} {arch} preload\n".encode() * 4000


def room_path(arch: str = HOST_ARCH, k8s: str = K8S) -> str:
    """Where a room holds the preload: its upstream URL's path."""
    url = preload_release(k8s).file_url(f"linux/{arch}")
    return url.split("://", 1)[1].split("/", 1)[1]


def seed_preload(
    room: Path, arch: str = HOST_ARCH, k8s: str = K8S, sha256: str | None = None
) -> bytes:
    """The preload in `room`, as `mboxed mirror` leaves it (`sha256`: another
    sum to record, for a room that lies)."""
    body = preload_bytes(arch, k8s)
    path = room / room_path(arch, k8s)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    recorded = sha256 or hashlib.sha256(body).hexdigest()
    path.with_name(path.name + ".sha256").write_text(f"{recorded}  {path.name}\n")
    return body
