"""One image of a room mirror as a docker-archive: the tar `docker save`
writes and `docker load` reads, streamed, for one platform.

The archive (moby image/tarexport, the format `docker save` writes since
Docker 25, with its layers under blobs/sha256/): `manifest.json` is a list
of {"Config": path, "RepoTags": [...], "Layers": [paths]}; the config and the
layers are files named by their digest. Layers are kept as the registry
serves them, gzip'd: `docker load` decompresses each layer file it reads
(moby image/tarexport/load.go, archive.DecompressStream) and
go-containerregistry's tarball reader, which minikube uses for its kicbase
cache, takes compressed layers as they are (pkg/v1/tarball/image.go,
areLayersCompressed).

Every manifest and blob comes from the room through mboxed.registry (an
index resolves to the platform's manifest) and is checked against its digest
as it streams; the last chunk of a blob is given only once it matched, and
manifest.json comes last. A reader of a stream cut short by a corrupt blob
therefore never finds a manifest.json: `docker load` tags nothing. The image
is never held in memory, only one chunk at a time (the config, small, whole).
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from mboxed.errors import MboxedError
from mboxed.images.oci import (
    ACCEPT,
    Descriptor,
    Manifest,
    Platform,
    chosen_children,
    mirror_repository,
    parse_manifest,
    platforms_of,
)
from mboxed.images.reference import Reference, parse
from mboxed.registry import NotFound, RegistryClient, check_digest

BLOCK = 512


class RoomLacksImage(MboxedError):
    """The room has no such image (or not for this platform)."""


def host_node_platform() -> Platform:
    """The platform of this host's nodes: linux on this machine's
    architecture (a Mac's Docker Desktop runs linux/arm64 or linux/amd64)."""
    from mboxed.bundle import host_platform

    return Platform("linux", host_platform().split("/", 1)[1])


@dataclass(frozen=True)
class ArchiveImage:
    """An image resolved in the room: its platform manifest and config."""

    reference: Reference
    repo_tag: str  # what manifest.json's RepoTags names, e.g. kindest/node:v1.31.0
    manifest: Manifest
    config: bytes
    client: RegistryClient
    repository: str

    @property
    def config_digest(self) -> str:
        """The image ID Docker gives it (the config's digest)."""
        return str(self.manifest.data["config"]["digest"])

    @property
    def layers(self) -> list[Descriptor]:
        """In the manifest's order (a layer may repeat)."""
        where = self.manifest.digest
        return [_layer(entry, where) for entry in self.manifest.data.get("layers") or []]

    @property
    def diff_ids(self) -> list[str]:
        return [str(d) for d in (json.loads(self.config).get("rootfs") or {}).get("diff_ids") or []]

    def member(self, digest: str) -> str:
        return f"blobs/sha256/{digest.partition(':')[2]}"

    def manifest_json(self) -> bytes:
        entry = {
            "Config": self.member(self.config_digest),
            "RepoTags": [self.repo_tag],
            "Layers": [self.member(d.digest) for d in self.layers],
        }
        return json.dumps([entry], separators=(",", ":")).encode()


def _layer(entry: Any, where: str) -> Descriptor:
    if not isinstance(entry, dict) or not entry.get("size"):
        raise MboxedError(f"manifest {where}: a layer has no size")
    digest = str(entry.get("digest", ""))
    check_digest(digest, f"manifest {where}")
    return Descriptor(str(entry.get("mediaType", "")), digest, int(entry["size"]), {})


def resolve(
    room_url: str, reference: str, platform: Platform, repo_tag: str, needed_by: str = ""
) -> ArchiveImage:
    """The room's image `reference` (as upstream names it) for `platform`,
    its manifests and config fetched and verified."""
    ref = parse(reference)
    client = RegistryClient(room_url)
    repository = mirror_repository(ref)
    what = f"image {ref}" + (f" ({needed_by})" if needed_by else "")
    try:
        fetched = client.manifest(repository, ref.digest or ref.tag, accept=ACCEPT)
        top = parse_manifest(fetched.body, fetched.digest, fetched.media_type, str(ref))
        image = top
        if top.is_index:
            chosen = chosen_children(top, [platform])
            if not chosen:
                raise RoomLacksImage(
                    f"{what}: the room at {room_url} has no manifest for {platform} "
                    f"(it has: {', '.join(platforms_of(top)) or 'none'})",
                    hint=f"build the room with --platform {platform}",
                )
            child = client.manifest(repository, chosen[0].digest, accept=ACCEPT)
            image = parse_manifest(child.body, child.digest, chosen[0].media_type, str(ref))
        config_digest = str((image.data.get("config") or {}).get("digest", ""))
        config = b"".join(client.blob_chunks(repository, config_digest, what))
    except NotFound:
        raise RoomLacksImage(
            f"{what}: the room at {room_url} lacks it",
            hint="fill the room for this profile (`mboxed mirror DIR --profile P` stores "
            "the provider's node image), or make the bundle again",
        ) from None
    found = json.loads(config)
    if not top.is_index and (found.get("os"), found.get("architecture")) != (
        platform.os,
        platform.architecture,
    ):
        raise RoomLacksImage(
            f"{what}: the room's image is for {found.get('os')}/{found.get('architecture')}, "
            f"not {platform}"
        )
    return ArchiveImage(ref, repo_tag, image, config, client, repository)


def _header(name: str, size: int, directory: bool = False) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = 0 if directory else size
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.mode = 0o755 if directory else 0o644
    info.mtime = 0
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def _padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


def _file(name: str, size: int, chunks: Iterable[bytes]) -> Iterator[bytes]:
    yield _header(name, size)
    sent = 0
    for chunk in chunks:
        sent += len(chunk)
        yield chunk
    if sent != size:  # blob_chunks checks sizes already; this guards the tar itself
        raise MboxedError(f"{name}: {sent} bytes streamed, {size} announced")
    yield _padding(size)


def stream(image: ArchiveImage) -> Iterator[bytes]:
    """The docker-archive of `image`, chunk by chunk; raises (naming the
    image and blob) at the first blob that does not match its digest."""
    what = f"image {image.reference}"
    yield _header("blobs/", 0, directory=True)
    yield _header("blobs/sha256/", 0, directory=True)
    yield from _file(image.member(image.config_digest), len(image.config), [image.config])
    done = {image.config_digest}
    for layer in image.layers:
        if layer.digest in done:
            continue
        done.add(layer.digest)
        chunks = image.client.blob_chunks(image.repository, layer.digest, what, size=layer.size)
        yield from _file(image.member(layer.digest), layer.size, chunks)
    body = image.manifest_json()
    yield from _file("manifest.json", len(body), [body])
    yield b"\0" * (2 * BLOCK)  # the end-of-archive marker


def read_manifest_json(fileobj: io.BufferedIOBase | Any) -> list[dict[str, Any]]:
    """manifest.json of a docker-archive file (random access: the tar's
    headers are read, its layer data skipped)."""
    with tarfile.open(fileobj=fileobj, mode="r:") as tar:
        member = tar.extractfile("manifest.json")
        if member is None:
            raise MboxedError("the archive has no manifest.json")
        found = json.loads(member.read())
    if not isinstance(found, list):
        raise MboxedError("the archive's manifest.json is not a list")
    return found
