"""A stand-in for the host's Docker engine as mboxed.providers.base_image
uses it (inspect an image, load a docker-archive), for the kind provider's
tests: its images are those of the kind stand-ins' state
($MBOXED_FAKE_STATE/kind.json, "images"), which the fake kind checks before
it creates nodes (tests/fakes/bin/kind, which imports `familiar` and
`find` from here).

As strict as `docker load` for what mboxed sends (moby image/tarexport/
load.go): the stream is read as a tar to its end; manifest.json must name a
Config and Layers that are members of it; the image ID is the sha256 of the
config, the layers' count must equal the config's rootfs.diff_ids; a stream
that breaks off (a generator raising) loads nothing. A loaded image has its
RepoTags and no RepoDigests (load.go never sets a digest reference).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tests.fakes import clusterfake as cf


def familiar(name: str) -> str:
    """docker's familiar form: docker.io/library/x → x, docker.io/a/b → a/b."""
    for prefix in ("docker.io/library/", "docker.io/"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


class _ChunkReader:
    """A file object over an iterable of bytes (what the SDK would send)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        size = len(self._buffer) if size < 0 else size
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


def _diff_id(layer: bytes) -> str:
    """The sha256 of the layer's tar, uncompressed (docker load decompresses)."""
    plain = gzip.decompress(layer) if layer[:2] == b"\x1f\x8b" else layer
    return "sha256:" + hashlib.sha256(plain).hexdigest()


def find(images: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """`docker image inspect NAME`: by tag, by repo@digest (the tag of
    repo:tag@digest is ignored, as docker's reference store does), or by ID."""
    wanted = familiar(name)
    if "@" in wanted:
        repo, digest = wanted.split("@", 1)
        head, _, tag = repo.rpartition(":")
        wanted = f"{head if head and '/' not in tag else repo}@{digest}"
    for found in images:
        if wanted in found.get("tags", []) or wanted in found.get("digests", []):
            return found
        if wanted == found.get("id"):
            return found
    return None


class FakeHostEngine:
    def __init__(self, state: Path) -> None:
        self.state = state

    def image(self, name: str) -> Mapping[str, Any] | None:
        with cf.tool_state("kind", ["docker", "image", "inspect", name], self.state) as data:
            found = find(data.setdefault("images", []), name)
        if found is None:
            return None
        return {
            "Id": found["id"],
            "RepoTags": list(found.get("tags", [])),
            "RepoDigests": list(found.get("digests", [])),
            "RootFS": {"Type": "layers", "Layers": list(found.get("layers", []))},
        }

    def load(self, chunks: Iterable[bytes]) -> list[str]:
        members: dict[str, bytes] = {}
        sizes: dict[str, int] = {}
        with tarfile.open(fileobj=_ChunkReader(chunks), mode="r|") as tar:  # type: ignore[call-overload]
            for member in tar:
                if not member.isfile():
                    continue
                handle = tar.extractfile(member)
                data = handle.read() if handle else b""
                sizes[member.name] = len(data)
                if member.name == "manifest.json" or member.size < 1 << 20:
                    members[member.name] = data
        if "manifest.json" not in members:
            raise RuntimeError("open manifest.json: no such file or directory")
        loaded = []
        with cf.tool_state("kind", ["docker", "load"], self.state) as data:
            images = data.setdefault("images", [])
            for entry in json.loads(members["manifest.json"]):
                config = members[entry["Config"]]
                diff_ids = json.loads(config)["rootfs"]["diff_ids"]
                if any(layer not in sizes for layer in entry["Layers"]):
                    raise RuntimeError("a layer of manifest.json is not in the archive")
                if len(entry["Layers"]) != len(diff_ids):
                    raise RuntimeError("invalid manifest, layers length mismatch")
                for name, diff_id in zip(entry["Layers"], diff_ids, strict=True):
                    if name in members and _diff_id(members[name]) != diff_id:
                        raise RuntimeError(f"invalid diffID for layer {name}")
                image_id = "sha256:" + hashlib.sha256(config).hexdigest()
                tags = [familiar(t) for t in entry.get("RepoTags") or []]
                for other in images:  # a tag moves to the image just loaded
                    other["tags"] = [t for t in other.get("tags", []) if t not in tags]
                found = find(images, image_id)
                if found is None:
                    found = {"id": image_id, "tags": [], "digests": [], "layers": diff_ids}
                    images.append(found)
                found["tags"] = sorted({*found["tags"], *tags})
                loaded += tags or [image_id]
        return loaded
