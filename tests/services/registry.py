"""A real registry on loopback (Debian docker-registry, tests/sciencebox/
registry.py `running_registry`) and images made for it here: layers are
small gzipped tars written in the test, manifests are Docker v2 schema 2 or
an OCI index over several platforms, pushed through the registry API
(distribution docs/spec/api.md: blob upload, manifest PUT).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass

import requests

from tests.sciencebox.registry import Registry, running_registry

__all__ = ["ImageBuilt", "Registry", "push_image", "push_index", "running_registry"]

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


@dataclass(frozen=True)
class ImageBuilt:
    repository: str  # path in the registry
    tag: str
    digest: str  # of the manifest (or index) the tag points at
    size: int  # compressed bytes of the layers


def layer(name: str, payload: bytes) -> tuple[bytes, str]:
    """A gzipped tar with one file; (compressed bytes, diff id of the tar)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(payload)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(payload))
    data = raw.getvalue()
    return gzip.compress(data, mtime=0), "sha256:" + hashlib.sha256(data).hexdigest()


def _put_manifest(
    registry: Registry,
    session: requests.Session,
    repository: str,
    ref: str,
    body: bytes,
    media: str,
) -> str:
    put = session.put(
        f"{registry.url}/v2/{repository}/manifests/{ref}",
        data=body,
        headers={"Content-Type": media},
        timeout=30,
    )
    assert put.status_code == 201, put.text
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _manifest(
    registry: Registry,
    session: requests.Session,
    repository: str,
    layers: list[bytes],
    seed: str,
    arch: str,
) -> tuple[bytes, int]:
    """Push layers and config; the manifest's bytes and the layers' size."""
    built = [layer(f"file{i}", content) for i, content in enumerate(layers)]
    config = json.dumps(
        {
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": ["/file0"], "Labels": {"seed": seed}},
            "rootfs": {"type": "layers", "diff_ids": [diff for _, diff in built]},
        }
    ).encode()
    entries = []
    for gz, _diff in built:
        digest = registry.push_blob(session, repository, gz)
        entries.append({"mediaType": DOCKER_LAYER, "size": len(gz), "digest": digest})
    config_digest = registry.push_blob(session, repository, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "size": len(config), "digest": config_digest},
        "layers": entries,
    }
    return json.dumps(manifest).encode(), sum(len(gz) for gz, _ in built)


def random_layers(count: int, size: int) -> list[bytes]:
    return [os.urandom(size) for _ in range(count)]


def push_image(
    registry: Registry, repository: str, tag: str, layers: list[bytes], seed: str = ""
) -> ImageBuilt:
    """A single-platform image (linux/amd64) with one layer per payload."""
    session = requests.Session()
    body, size = _manifest(registry, session, repository, layers, seed or tag, "amd64")
    digest = _put_manifest(registry, session, repository, tag, body, DOCKER_MANIFEST)
    return ImageBuilt(repository, tag, digest, size)


def push_index(
    registry: Registry, repository: str, tag: str, layers: list[bytes], arches: tuple[str, ...]
) -> ImageBuilt:
    """A multi-platform OCI index, one image per architecture."""
    session = requests.Session()
    entries = []
    size = 0
    for arch in arches:
        body, arch_size = _manifest(registry, session, repository, layers, f"{tag}-{arch}", arch)
        digest = _put_manifest(
            registry, session, repository, digest_of(body), body, DOCKER_MANIFEST
        )
        entries.append(
            {
                "mediaType": DOCKER_MANIFEST,
                "size": len(body),
                "digest": digest,
                "platform": {"architecture": arch, "os": "linux"},
            }
        )
        size = arch_size
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    digest = _put_manifest(registry, session, repository, tag, index, OCI_INDEX)
    return ImageBuilt(repository, tag, digest, size)


def digest_of(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()
