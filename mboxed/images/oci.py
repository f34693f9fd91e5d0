"""OCI and Docker manifests, platforms, and where an image lives in the room
mirror. Pure: no I/O.

Media types: opencontainers/image-spec media-types.md (index, manifest,
config, layers) and Docker's distribution schema 2 (manifest list, image
manifest), which registries serve for most images still. Schema 1 is gone
from every registry mboxed pulls from and is refused.

The room mirror keeps images of several registries in one tree, each under a
namespace named after its registry host:

    v2/<namespace>/<repository path>/manifests/<tag>|sha256:<hex>
    v2/<namespace>/<repository path>/blobs/sha256:<hex>

`docker.io/library/busybox:1.36` → v2/docker.io/library/busybox/…, and
`127.0.0.1:5000/x` → v2/127.0.0.1_5000/x/… (":" may not appear in a
repository path; "_" may, and never in a host name). Docker addresses it as
`<room>/docker.io/library/busybox:1.36`; containerd, given the room as a
mirror in hosts.toml, asks `/v2/library/busybox/manifests/1.36?ns=docker.io`
(containerd remotes/docker/resolver.go addNamespace), which the room's
server maps to the same files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mboxed.errors import MboxedError
from mboxed.images.reference import Reference
from mboxed.registry import check_digest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
IMAGE_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join((*INDEX_TYPES, *IMAGE_TYPES))

_HOST_PORT = re.compile(r"^[a-z0-9.-]+(?::[0-9]+)?$")


# --- where an image lives in the mirror ----------------------------------------------


def namespace(registry: str) -> str:
    """The first path component that names a registry inside the room."""
    host = registry.lower()
    if not _HOST_PORT.match(host):
        raise MboxedError(f"registry {registry!r} cannot be mirrored (not host[:port])")
    return host.replace(":", "_")


def registry_of(namespace_key: str) -> str:
    """Inverse of namespace()."""
    return namespace_key.replace("_", ":")


def mirror_repository(ref: Reference) -> str:
    """The repository name of `ref` inside the room: <namespace>/<path>."""
    return f"{namespace(ref.domain)}/{ref.path}"


def room_reference(ref: Reference, room_host: str) -> str:
    """What Docker pulls to get `ref` from the room at host:port."""
    suffix = f"@{ref.digest}" if ref.digest else f":{ref.tag}"
    return f"{room_host}/{mirror_repository(ref)}{suffix}"


# --- manifests ------------------------------------------------------------------------


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Mapping[str, Any]


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest or index, with the bytes its digest is of."""

    body: bytes
    digest: str
    media_type: str
    data: Mapping[str, Any]

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    def children(self) -> list[Descriptor]:
        return [_descriptor(entry, self.digest) for entry in self.data.get("manifests") or []]

    def blobs(self) -> list[Descriptor]:
        """Config first, then layers; each digest once."""
        entries = [self.data.get("config"), *(self.data.get("layers") or [])]
        out: list[Descriptor] = []
        for entry in entries:
            found = _descriptor(entry, self.digest)
            if found.digest not in {d.digest for d in out}:
                out.append(found)
        return out


def _descriptor(entry: Any, where: str) -> Descriptor:
    if not isinstance(entry, Mapping):
        raise MboxedError(f"manifest {where}: a descriptor is not an object")
    digest = str(entry.get("digest", ""))
    check_digest(digest, f"manifest {where}")
    platform = entry.get("platform") or {}
    return Descriptor(
        str(entry.get("mediaType", "")),
        digest,
        int(entry.get("size") or 0),
        platform if isinstance(platform, Mapping) else {},
    )


def media_type_of(data: Mapping[str, Any], announced: str = "") -> str:
    """The manifest's own mediaType; OCI makes it optional, so an unmarked
    one is an index when it lists manifests (image-spec image-index.md)."""
    declared = str(data.get("mediaType") or "")
    if declared:
        return declared
    if announced in (*INDEX_TYPES, *IMAGE_TYPES):
        return announced
    return OCI_INDEX if "manifests" in data else OCI_MANIFEST


def parse_manifest(body: bytes, digest: str, announced: str = "", where: str = "") -> Manifest:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    where = where or digest
    if not isinstance(data, Mapping):
        raise MboxedError(f"{where}: the manifest is not a JSON object")
    if data.get("schemaVersion") != 2:
        raise MboxedError(
            f"{where}: manifest schema {data.get('schemaVersion')!r} is not supported",
            hint="only schema 2 (Docker v2 / OCI) images can be mirrored",
        )
    media_type = media_type_of(data, announced)
    if media_type not in (*INDEX_TYPES, *IMAGE_TYPES):
        raise MboxedError(f"{where}: manifest type {media_type!r} is not an image or index")
    return Manifest(body, digest, media_type, data)


# --- platforms ---------------------------------------------------------------------


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise MboxedError(f"platform {text!r} is not OS/ARCH[/VARIANT]")
        return cls(*parts)

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def matches(self, platform: Mapping[str, Any]) -> bool:
        if platform.get("os") != self.os or platform.get("architecture") != self.architecture:
            return False
        variant = str(platform.get("variant") or "")
        if self.variant:
            return variant == self.variant
        # arm64 images are v8 whether or not they say so (containerd
        # platforms.Normalize); for other architectures no variant means any.
        return self.architecture != "arm64" or variant in ("", "v8")


def node_platforms(platforms: Iterable[str]) -> list[Platform]:
    """The platforms of the nodes: a darwin/arm64 laptop runs linux/arm64
    nodes (Docker Desktop's VM), so only the architecture counts."""
    out: list[Platform] = []
    for text in platforms:
        chosen = Platform.parse(text)
        node = Platform("linux", chosen.architecture, chosen.variant)
        if node not in out:
            out.append(node)
    return out


def chosen_children(index: Manifest, platforms: Sequence[Platform]) -> list[Descriptor]:
    """The index's manifests for the chosen platforms (attestations, which
    carry platform unknown/unknown, never match)."""
    return [d for d in index.children() if any(p.matches(d.platform) for p in platforms)]


def platforms_of(index: Manifest) -> list[str]:
    return [
        "/".join(
            str(d.platform.get(k)) for k in ("os", "architecture", "variant") if d.platform.get(k)
        )
        for d in index.children()
    ]
