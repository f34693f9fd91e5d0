"""The offline bundle, round trip: a room built from a real registry, bundled,
the registry stopped, the bundle verified and served straight from the tar —
and the images land in a real Docker engine and a real containerd with their
digests intact. The network guard (tests/conftest.py) is on throughout.
Then what a damaged bundle gets: an error naming the member."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from mboxed.bundle import (
    HEADER,
    MANIFEST,
    TarTree,
    open_bundle,
    verify_bundle,
    write_bundle,
)
from mboxed.errors import MboxedError
from mboxed.images.mirror import ImageMirror, mirror_images, wanted_from_references
from mboxed.images.oci import node_platforms
from mboxed.images.room_pull import hosts_files
from mboxed.mirror_server import RoomServer
from tests.cli.run import mboxed
from tests.images.built import Built, image, index, push
from tests.sciencebox.registry import REGISTRY_BIN, running_registry
from tests.services import containerd as containerd_service
from tests.services import dockerd as dockerd_service

pytestmark = pytest.mark.skipif(REGISTRY_BIN is None, reason="docker-registry not installed")

TOOL = "dl.k8s.io/release/v1.31.13/bin/linux/amd64/kubectl"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[Built]]:
    """(bundle file, upstream host:port — stopped, images)."""
    base = tmp_path_factory.mktemp("bundle")
    room = base / "room"
    with running_registry(base / "upstream", token_auth=False) as registry:
        images = [
            push(registry, image("sciencebox/app", "1.0", layers=4)),
            push(registry, index("sciencebox/multi", "3.0")),
        ]
        upstream = registry.url.removeprefix("http://")
        mirror = ImageMirror(room, node_platforms(["linux/amd64"]))
        mirror_images(
            mirror, wanted_from_references(f"{upstream}/{b.name}:{b.tag}" for b in images)
        )
    (room / TOOL).parent.mkdir(parents=True)
    (room / TOOL).write_bytes(b"\x7fELF a tool" * 1000)
    files = [*mirror.result.added, TOOL]
    write_bundle(base / "sb.tar", room, files, profile="demo", platforms=["linux/amd64"])
    shutil.rmtree(room)  # the bundle is all there is now
    return base / "sb.tar", upstream, images


def test_the_bundle_is_a_tar_with_header_first_and_manifest_last(
    made: tuple[Path, str, list[Built]],
) -> None:
    path, _, images = made
    with tarfile.open(path) as tar:
        names = tar.getnames()
    assert names[0] == HEADER and names[-1] == MANIFEST
    bundle = open_bundle(path, "linux/amd64")
    assert bundle.profile == "demo"
    members = bundle.manifest["members"]
    assert f"room/{TOOL}" in members
    app = images[0]
    assert any(name.endswith(f"blobs/{next(iter(app.blobs))}") for name in members)


@pytest.mark.skipif(dockerd_service.available() is not None, reason="needs root for dockerd")
@pytest.mark.skipif(containerd_service.available() is not None, reason="needs root")
def test_offline_round_trip_into_docker_and_containerd_with_digests_intact(
    made: tuple[Path, str, list[Built]], tmp_path: Path
) -> None:
    path, upstream, images = made
    bundle = open_bundle(path, "linux/amd64")
    assert verify_bundle(bundle, tmp_path / "marks") is True
    assert verify_bundle(bundle, tmp_path / "marks") is False  # a second time reads nothing
    namespace = upstream.replace(":", "_")
    with RoomServer(TarTree(bundle), "127.0.0.1", 0) as room:
        with dockerd_service.running_dockerd() as engine:
            for built in images:
                result = engine.cli(
                    "pull", f"127.0.0.1:{room.port}/{namespace}/{built.name}:{built.tag}"
                )
                assert result.returncode == 0, result.stderr
                assert f"Digest: {built.digest}" in result.stdout
        hosts = tmp_path / "certs.d"
        for rel, text in hosts_files([upstream], room.url()).items():
            (hosts / rel).parent.mkdir(parents=True, exist_ok=True)
            (hosts / rel).write_text(text)
        with containerd_service.running_containerd() as containerd:
            for built in images:
                ref = f"{upstream}/{built.name}:{built.tag}"
                result = containerd.ctr("images", "pull", "--hosts-dir", str(hosts), ref)
                assert result.returncode == 0, result.stderr + result.stdout
            digests = containerd.image_digests()
        tool = room.tree.lookup(TOOL)
        assert tool is not None and tool.size == len(b"\x7fELF a tool" * 1000)
    for built in images:
        assert digests[f"{upstream}/{built.name}:{built.tag}"] == built.digest


def _damaged(source: Path, dest: Path, member_suffix: str, how: str) -> str:
    shutil.copyfile(source, dest)
    bundle = open_bundle(dest, "linux/amd64")
    name = next(n for n in bundle.manifest["members"] if n.endswith(member_suffix))
    entry = bundle.entries[name]
    if how == "flip":
        with dest.open("r+b") as handle:
            handle.seek(entry.offset + entry.size // 2)
            byte = handle.read(1)
            handle.seek(entry.offset + entry.size // 2)
            handle.write(bytes([byte[0] ^ 0xFF]))
    else:
        os.truncate(dest, entry.offset + entry.size // 2)
    return name


def test_a_corrupt_member_is_named_and_nothing_is_marked_verified(
    made: tuple[Path, str, list[Built]], tmp_path: Path
) -> None:
    path, _, images = made
    layer = next(d for d, b in images[0].blobs.items() if b[:2] == b"\x1f\x8b")
    name = _damaged(path, tmp_path / "bad.tar", layer, "flip")
    bundle = open_bundle(tmp_path / "bad.tar", "linux/amd64")
    with pytest.raises(MboxedError, match="is corrupt") as caught:
        verify_bundle(bundle, tmp_path / "marks")
    assert f"member {name} is corrupt" in caught.value.message
    assert not (tmp_path / "marks").exists()  # nothing recorded as verified


def test_a_truncated_bundle_names_the_member_it_stops_in(
    made: tuple[Path, str, list[Built]], tmp_path: Path
) -> None:
    path, _, images = made
    layer = next(d for d, b in images[0].blobs.items() if b[:2] == b"\x1f\x8b")
    name = _damaged(path, tmp_path / "short.tar", layer, "truncate")
    with pytest.raises(MboxedError) as caught:
        open_bundle(tmp_path / "short.tar", "linux/amd64")
    assert name in caught.value.message
    assert "truncated" in caught.value.message


def test_a_bundle_for_another_platform_is_refused_at_once(
    made: tuple[Path, str, list[Built]],
) -> None:
    path, _, _ = made
    with pytest.raises(
        MboxedError, match=r"it is for linux/amd64, not for this machine \(linux/arm64\)"
    ) as caught:
        open_bundle(path, "linux/arm64")
    assert "--platform linux/arm64" in caught.value.hint


def test_up_with_a_foreign_bundle_fails_before_any_step(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.tar"
    with tarfile.open(foreign, "w") as tar:
        data = json.dumps({"format": 1, "profile": "demo", "platforms": ["plan9/mips"]}).encode()
        info = tarfile.TarInfo(HEADER)
        info.size = len(data)
        import io

        tar.addfile(info, io.BytesIO(data))
    result = mboxed(
        "up", "--profile", "demo", "--bundle", str(foreign),
        env={"CI": "1", "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"},
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: bundle {foreign}: it is for plan9/mips")
