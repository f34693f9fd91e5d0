"""One image of a room as a docker-archive stream: images built here, pushed
to a real docker-registry, mirrored into a room (mboxed.images.mirror) and
served by mboxed's room server; the stream loaded by a real, private Docker
engine (the image ID is the config digest, the tag is the one asked for), an
index resolved to the platform asked for, a corrupt blob refused by name with
nothing tagged, and minikube's kicbase cache file written as a docker-archive."""

from __future__ import annotations

import json
import shutil
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mboxed.errors import MboxedError
from mboxed.images.docker_archive import (
    RoomLacksImage,
    host_node_platform,
    read_manifest_json,
    resolve,
    stream,
)
from mboxed.images.mirror import ImageMirror, mirror_images, wanted_from_references
from mboxed.images.oci import Platform, mirror_repository, node_platforms
from mboxed.images.reference import parse
from mboxed.mirror_server import RoomServer, serve_directory
from mboxed.providers import base_image
from tests.images.built import Built, image, index, push
from tests.providers.world import mirror_server
from tests.sciencebox.registry import Registry
from tests.services import dockerd as dockerd_service


@dataclass(frozen=True)
class Room:
    root: Path
    url: str
    upstream: str  # host:port of the registry the images came from
    app: Built
    multi: Built

    def ref(self, built: Built) -> str:
        return f"{self.upstream}/{built.name}:{built.tag}@{built.digest}"


@pytest.fixture(scope="module")
def room(image_registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Room]:
    host = image_registry.url.removeprefix("http://")
    app = push(image_registry, image("archive/app", "1.0", layers=3))
    multi = push(image_registry, index("archive/multi", "2.0"))
    root = tmp_path_factory.mktemp("archive-room")
    refs = [f"{host}/{b.name}:{b.tag}" for b in (app, multi)]
    platforms = node_platforms(["linux/amd64", "linux/arm64"])
    mirror_images(ImageMirror(root, platforms), wanted_from_references(refs))
    server: RoomServer = serve_directory(root, "127.0.0.1", 0)
    with server:
        yield Room(root, server.url(), host, app, multi)


def config_of(built: Built) -> str:
    return str(json.loads(built.manifest)["config"]["digest"])


def test_docker_load_of_the_stream_gives_the_config_digest_and_the_tag(
    room: Room, private_dockerd: dockerd_service.Dockerd
) -> None:
    engine = base_image.DockerHostEngine(private_dockerd.host)
    archive = resolve(room.url, room.ref(room.app), host_node_platform(), "kindest/node:v9.9.9")
    assert archive.config_digest == config_of(room.app)
    engine.load(stream(archive))
    inspected = engine.image("kindest/node:v9.9.9")
    assert inspected is not None
    assert inspected["Id"] == config_of(room.app)
    assert inspected["RepoTags"] == ["kindest/node:v9.9.9"]
    assert inspected["RepoDigests"] == []  # why kind's config names it by tag
    assert base_image.engine_holds(inspected, archive)


def test_an_index_resolves_to_the_platform_asked_for(
    room: Room, private_dockerd: dockerd_service.Dockerd
) -> None:
    amd64, arm64 = room.multi.children[:2]
    for child, arch in ((amd64, "amd64"), (arm64, "arm64")):
        archive = resolve(room.url, room.ref(room.multi), Platform("linux", arch), "x/multi:2.0")
        assert archive.manifest.digest == child.digest
        assert archive.config_digest == config_of(child)
        assert json.loads(archive.config)["architecture"] == arch
    # the host's platform loads and runs nowhere else: its config digest is the ID
    engine = base_image.DockerHostEngine(private_dockerd.host)
    archive = resolve(room.url, room.ref(room.multi), host_node_platform(), "x/multi:2.0")
    engine.load(stream(archive))
    inspected = engine.image("x/multi:2.0")
    assert inspected is not None and inspected["Id"] == archive.config_digest
    with pytest.raises(RoomLacksImage, match="no manifest for linux/s390x"):
        resolve(room.url, room.ref(room.multi), Platform("linux", "s390x"), "x/multi:2.0")


def test_an_image_the_room_lacks_is_named(room: Room) -> None:
    ref = f"{room.upstream}/archive/absent:1.0"
    with pytest.raises(RoomLacksImage) as caught:
        resolve(room.url, ref, host_node_platform(), "absent:1.0", "kind's node image")
    assert f"image {ref} (kind's node image): the room at {room.url} lacks it" in str(caught.value)
    assert "mboxed mirror DIR --profile P" in (caught.value.hint or "")


def test_a_corrupt_blob_is_refused_by_name_and_nothing_is_tagged(
    room: Room, private_dockerd: dockerd_service.Dockerd, tmp_path: Path
) -> None:
    # a static server (no digest check of its own, unlike mboxed's room server)
    copy = tmp_path / "room"
    shutil.copytree(room.root, copy)
    layer = json.loads(room.app.manifest)["layers"][1]["digest"]
    blob = copy / "v2" / mirror_repository(parse(room.ref(room.app))) / "blobs" / layer
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    engine = base_image.DockerHostEngine(private_dockerd.host)
    with mirror_server(copy) as url:
        archive = resolve(url, room.ref(room.app), host_node_platform(), "corrupt/app:1.0")
        with pytest.raises(MboxedError) as caught:
            engine.load(stream(archive))
    assert layer in str(caught.value)
    assert f"image {parse(room.ref(room.app))}" in str(caught.value)
    assert engine.image("corrupt/app:1.0") is None


def test_the_kicbase_cache_file_is_a_docker_archive_under_its_tag(
    room: Room, tmp_path: Path, private_dockerd: dockerd_service.Dockerd
) -> None:
    env = {"MINIKUBE_HOME": str(tmp_path / "mk"), "HOME": str(tmp_path)}
    ref = room.ref(room.app)
    lines: list[str] = []
    assert base_image.write_kic_cache(env, room.url, ref, lines.append)
    arch = host_node_platform().architecture
    path = (
        tmp_path
        / "mk"
        / "cache"
        / "kic"
        / arch
        / f"app_1.0@{room.app.digest}.tar".replace(":", "_")
    )
    assert path == base_image.kic_cache_path(env, ref, arch)
    assert path.is_file() and not list(path.parent.glob(".*"))  # no temp file left
    with path.open("rb") as handle:
        (entry,) = read_manifest_json(handle)
    assert entry["RepoTags"] == [f"{room.upstream}/archive/app:1.0"]
    with tarfile.open(path) as tar:
        assert tar.getmember(entry["Config"]).size == len(room.app.blobs[config_of(room.app)])
        assert len(entry["Layers"]) == 3
    # a real reader: docker load of the file gives the image by its config digest
    loaded = private_dockerd.cli("load", "-i", str(path))
    assert loaded.returncode == 0, loaded.stderr
    assert private_dockerd.client.images.get(entry["RepoTags"][0]).id == config_of(room.app)
    # a second run finds it and writes nothing; a damaged file is written again
    assert not base_image.write_kic_cache(env, room.url, ref, lines.append)
    assert len(lines) == 1
    path.write_bytes(path.read_bytes()[:4096])
    assert base_image.cache_lacks(env, room.url, ref)
    assert base_image.write_kic_cache(env, room.url, ref, lines.append)
