"""The room's copy of minikube's preload, fetched from a loopback server
standing in for storage.googleapis.com: the GCS JSON API's object metadata
(md5Hash, base64) and the object itself. Verified against that MD5, stored at
its upstream path with the sha256 of the verified bytes beside it; a second
run asks upstream nothing; a wrong MD5 is refused by name."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from urllib.parse import quote

import pytest

from mboxed.errors import MboxedError
from mboxed.files import parse_checksum_file
from mboxed.mirror import MirrorBuilder, build_mirror
from mboxed.providers.minikube_preload import BUCKET, tarball_name
from tests.file_server import FileServer

K8S = "v1.31.0"


def preload_bytes(arch: str) -> bytes:
    return f"lz4 frames of the {arch} preload\n".encode() * 5000


def object_name(arch: str) -> str:
    return f"v18/{K8S}/{tarball_name(K8S, arch)}"


def room_path(arch: str) -> str:
    return f"{BUCKET}/{object_name(arch)}"


def publish(gcs: FileServer, arch: str, body: bytes, md5_of: bytes | None = None) -> None:
    """What GCS serves for one preload: the JSON API object resource (its
    md5Hash, of `md5_of` when given, else of the body) and the object."""
    md5 = base64.b64encode(hashlib.md5(md5_of or body).digest()).decode()
    meta = {"kind": "storage#object", "name": object_name(arch), "bucket": BUCKET,
            "size": str(len(body)), "md5Hash": md5}  # fmt: skip
    api = f"/storage/v1/b/{BUCKET}/o/{quote(object_name(arch), safe='')}"
    gcs.add(api, json.dumps(meta).encode())
    gcs.add(f"/{room_path(arch)}", body)


def builder(tmp_path: Path, gcs: FileServer) -> MirrorBuilder:
    return MirrorBuilder(tmp_path / "room", tmp_path / "cache", gcs=gcs.url, attempts=1)


def mirror(b: MirrorBuilder, platforms: list[str]) -> None:
    build_mirror(b, platforms=platforms, tools=[], chart=None, ingress=False, preload=K8S)


def test_the_preload_is_stored_per_arch_with_the_sha256_of_md5_verified_bytes(
    tmp_path: Path,
) -> None:
    with FileServer() as gcs:
        for arch in ("amd64", "arm64"):
            publish(gcs, arch, preload_bytes(arch))
        first = builder(tmp_path, gcs)
        # darwin/arm64 laptops run linux/arm64 nodes: one arm64 preload for both
        mirror(first, ["linux/amd64", "darwin/arm64", "linux/arm64"])
        room = tmp_path / "room"
        for arch in ("amd64", "arm64"):
            stored = room / room_path(arch)
            assert stored.read_bytes() == preload_bytes(arch)
            sum_file = stored.with_name(stored.name + ".sha256")
            assert parse_checksum_file(sum_file.read_text(), stored.name) == (
                hashlib.sha256(preload_bytes(arch)).hexdigest()
            )
        assert sorted(first.result.added) == sorted(
            p for arch in ("amd64", "arm64") for p in (room_path(arch), room_path(arch) + ".sha256")
        )
        asked = len(gcs.requests)
        assert asked == 4  # metadata and object, per arch

        again = builder(tmp_path, gcs)
        mirror(again, ["linux/amd64", "linux/arm64"])
        assert again.result.added == []
        assert len(again.result.kept) == 4
        assert len(gcs.requests) == asked  # nothing asked upstream

        # Another room from the same downloads cache (a bundle's room, say):
        # the remembered sum finds the verified file, upstream is not asked.
        other = MirrorBuilder(tmp_path / "room-2", tmp_path / "cache", gcs=gcs.url)
        mirror(other, ["linux/amd64"])
        assert (tmp_path / "room-2" / room_path("amd64")).read_bytes() == preload_bytes("amd64")
        assert len(gcs.requests) == asked


def test_a_preload_whose_bytes_are_not_the_published_md5_is_refused_by_name(
    tmp_path: Path,
) -> None:
    with FileServer() as gcs:
        publish(gcs, "amd64", preload_bytes("amd64"), md5_of=b"another file")
        b = builder(tmp_path, gcs)
        with pytest.raises(MboxedError) as raised:
            mirror(b, ["linux/amd64"])
    message = raised.value.message
    assert "checksum mismatch" in message and tarball_name(K8S, "amd64") in message
    assert "md5" in message
    room_file = tmp_path / "room" / room_path("amd64")
    assert not room_file.exists()
    assert not room_file.with_name(room_file.name + ".sha256").exists()
    assert not list((tmp_path / "cache" / "downloads").glob("*.part"))


def test_metadata_without_an_md5_is_refused(tmp_path: Path) -> None:
    with FileServer() as gcs:
        publish(gcs, "amd64", preload_bytes("amd64"))
        api = f"/storage/v1/b/{BUCKET}/o/{quote(object_name('amd64'), safe='')}"
        gcs.add(api, json.dumps({"name": object_name("amd64")}).encode())
        with pytest.raises(MboxedError, match=r"no md5Hash for v18/v1\.31\.0/preloaded-images"):
            mirror(builder(tmp_path, gcs), ["linux/amd64"])
        assert gcs.hits(f"/{room_path('amd64')}") == []  # the object was not even fetched


def test_a_damaged_preload_in_the_room_is_fetched_again(tmp_path: Path) -> None:
    with FileServer() as gcs:
        publish(gcs, "amd64", preload_bytes("amd64"))
        mirror(builder(tmp_path, gcs), ["linux/amd64"])
        stored = tmp_path / "room" / room_path("amd64")
        stored.unlink()
        stored.write_bytes(b"truncated")
        (tmp_path / "cache" / "downloads").rename(tmp_path / "old-cache")
        repair = builder(tmp_path, gcs)
        mirror(repair, ["linux/amd64"])
        assert stored.read_bytes() == preload_bytes("amd64")
        assert room_path("amd64") in repair.result.added
