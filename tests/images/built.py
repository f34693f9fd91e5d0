"""Small but real container images, built here and pushed to a real registry
(tests/sciencebox/registry.py): gzip'd tar layers, a config whose diff_ids
are the layers' uncompressed sha256 (image-spec config.md, what Docker and
containerd check when they unpack), Docker v2 or OCI manifests, and a
multi-platform index with an attestation-like entry (platform unknown/unknown,
as BuildKit pushes them)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import requests

from mboxed.images.oci import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST
from tests.sciencebox.registry import Registry

LAYER_OCI = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_DOCKER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
CONFIG_OCI = "application/vnd.oci.image.config.v1+json"
CONFIG_DOCKER = "application/vnd.docker.container.image.v1+json"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer(files: dict[str, bytes]) -> tuple[bytes, str]:
    """(gzip'd tar, diff_id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 1_700_000_000
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    plain = raw.getvalue()
    return gzip.compress(plain, mtime=0), sha(plain)


@dataclass
class Built:
    """An image (or index) as pushed: its manifest bytes and every blob."""

    name: str  # repository in the registry
    tag: str
    manifest: bytes
    media_type: str
    blobs: dict[str, bytes] = field(default_factory=dict)
    children: list[Built] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return sha(self.manifest)

    @property
    def size(self) -> int:
        return sum(len(b) for b in self.blobs.values()) + sum(c.size for c in self.children)


def image(
    name: str, tag: str, layers: int = 3, arch: str = "amd64", oci: bool = False, seed: str = ""
) -> Built:
    blobs: dict[str, bytes] = {}
    descriptors, diff_ids = [], []
    for i in range(layers):
        # distinct, slightly bulky content per layer (not compressible to nothing)
        body = hashlib.sha256(f"{name}{tag}{arch}{seed}{i}".encode()).digest() * 2048
        data, diff_id = layer({f"layer{i}/{arch}.bin": body, f"etc/l{i}": f"{i}\n".encode()})
        blobs[sha(data)] = data
        descriptors.append(
            {
                "mediaType": LAYER_OCI if oci else LAYER_DOCKER,
                "digest": sha(data),
                "size": len(data),
            }
        )
        diff_ids.append(diff_id)
    config = json.dumps(
        {
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": ["/bin/true"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
    ).encode()
    blobs[sha(config)] = config
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST if oci else DOCKER_MANIFEST,
        "config": {
            "mediaType": CONFIG_OCI if oci else CONFIG_DOCKER,
            "digest": sha(config),
            "size": len(config),
        },
        "layers": descriptors,
    }
    media_type = OCI_MANIFEST if oci else DOCKER_MANIFEST
    return Built(name, tag, json.dumps(manifest).encode(), media_type, blobs)


def index(name: str, tag: str, arches: tuple[str, ...] = ("amd64", "arm64")) -> Built:
    children = [image(name, tag, layers=2, arch=a, oci=True) for a in arches]
    attestation = image(name, tag + "-att", layers=1, oci=True, seed="attestation")
    entries = [
        {
            "mediaType": OCI_MANIFEST,
            "digest": c.digest,
            "size": len(c.manifest),
            "platform": {"os": "linux", "architecture": a},
        }
        for c, a in zip(children, arches, strict=True)
    ]
    entries.append(
        {
            "mediaType": OCI_MANIFEST,
            "digest": attestation.digest,
            "size": len(attestation.manifest),
            "platform": {"os": "unknown", "architecture": "unknown"},
        }
    )
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    return Built(name, tag, body, OCI_INDEX, {}, [*children, attestation])


def push(registry: Registry, built: Built) -> Built:
    session = requests.Session()
    for child in built.children:
        push_manifest(registry, session, child, child.digest)
    push_manifest(registry, session, built, built.tag)
    return built


def push_manifest(
    registry: Registry, session: requests.Session, built: Built, reference: str
) -> None:
    for data in built.blobs.values():
        registry.push_blob(session, built.name, data)
    put = session.put(
        f"{registry.url}/v2/{built.name}/manifests/{reference}",
        data=built.manifest,
        headers={"Content-Type": built.media_type},
        timeout=10,
    )
    assert put.status_code == 201, put.text


def store(root: Path, reference: str, built: Built) -> None:
    """Write `built` into a room mirror directory `root` as `mboxed mirror`
    lays it out (mboxed/images/oci.py mirror_repository): blobs, the
    children's manifests by digest, the manifest by digest and by tag."""
    from mboxed.images.oci import mirror_repository
    from mboxed.images.reference import parse

    tree = root / "v2" / mirror_repository(parse(reference))
    (tree / "blobs").mkdir(parents=True, exist_ok=True)
    (tree / "manifests").mkdir(exist_ok=True)
    for part in (*built.children, built):
        for digest, data in part.blobs.items():
            (tree / "blobs" / digest).write_bytes(data)
        (tree / "manifests" / part.digest).write_bytes(part.manifest)
    (tree / "manifests" / built.tag).write_bytes(built.manifest)
