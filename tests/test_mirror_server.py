"""`mboxed mirror serve`: the room mirror as a read-only OCI distribution
endpoint, checked with plain HTTP, then pulled by a real Docker engine and a
real containerd (`ctr images pull --hosts-dir` with the hosts.toml mboxed
writes), with the upstream registry stopped so that only the room can answer."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from mboxed.images.mirror import ImageMirror, mirror_images, wanted_from_references
from mboxed.images.oci import DOCKER_MANIFEST, OCI_INDEX, node_platforms
from mboxed.images.room_pull import hosts_files
from mboxed.mirror_server import RoomServer, serve_directory
from tests.images.built import Built, image, index, push
from tests.sciencebox.registry import REGISTRY_BIN, running_registry
from tests.services import containerd as containerd_service
from tests.services import dockerd as dockerd_service

pytestmark = pytest.mark.skipif(REGISTRY_BIN is None, reason="docker-registry not installed")


@dataclass
class Room:
    root: Path
    upstream_host: str  # the stopped registry's host:port
    app: Built
    multi: Built

    def ref(self, built: Built) -> str:
        return f"{self.upstream_host}/{built.name}:{built.tag}"

    @property
    def namespace(self) -> str:
        return self.upstream_host.replace(":", "_")


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Room:
    """A room mirror built from a real registry, which is then stopped."""
    base = tmp_path_factory.mktemp("room")
    with running_registry(base / "upstream", token_auth=False) as registry:
        app = push(registry, image("sciencebox/app", "1.0", layers=4))
        multi = push(registry, index("sciencebox/multi", "3.0"))
        upstream_host = registry.url.removeprefix("http://")
        mirror = ImageMirror(base / "mirror", node_platforms(["linux/amd64", "linux/arm64"]))
        refs = [f"{upstream_host}/{b.name}:{b.tag}" for b in (app, multi)]
        mirror_images(mirror, wanted_from_references(refs))
    (base / "mirror" / "tools").mkdir()
    (base / "mirror" / "tools" / "helm.tar.gz").write_bytes(b"0123456789" * 100)
    return Room(base / "mirror", upstream_host, app, multi)


@pytest.fixture
def server(room: Room) -> Iterator[RoomServer]:
    with serve_directory(room.root, "127.0.0.1", 0) as served:
        yield served


def test_the_api_root_answers_get_and_head(server: RoomServer) -> None:
    for method in ("GET", "HEAD"):
        answer = requests.request(method, f"{server.url()}/v2/", timeout=5)
        assert answer.status_code == 200
        assert answer.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_manifests_carry_their_media_type_and_digest_by_tag_or_digest(
    room: Room, server: RoomServer
) -> None:
    name = f"{room.namespace}/{room.app.name}"
    for reference in (room.app.tag, room.app.digest):
        answer = requests.get(f"{server.url()}/v2/{name}/manifests/{reference}", timeout=5)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == DOCKER_MANIFEST
        assert answer.headers["Docker-Content-Digest"] == room.app.digest
        assert answer.content == room.app.manifest
    head = requests.head(f"{server.url()}/v2/{name}/manifests/3.0?ns=x", timeout=5)
    assert head.status_code == 404
    # containerd's mirror form: the path without the registry, ?ns=<registry>
    answer = requests.get(
        f"{server.url()}/v2/{room.multi.name}/manifests/3.0",
        params={"ns": room.upstream_host},
        timeout=5,
    )
    assert answer.headers["Content-Type"] == OCI_INDEX
    assert answer.content == room.multi.manifest


def test_blobs_honour_ranges_and_unknown_things_get_oci_errors(
    room: Room, server: RoomServer
) -> None:
    name = f"{room.namespace}/{room.app.name}"
    digest, data = next(iter(room.app.blobs.items()))
    url = f"{server.url()}/v2/{name}/blobs/{digest}"
    whole = requests.get(url, timeout=5)
    assert whole.content == data and whole.headers["Docker-Content-Digest"] == digest
    part = requests.get(url, headers={"Range": "bytes=10-19"}, timeout=5)
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert requests.head(url, timeout=5).headers["Content-Length"] == str(len(data))

    missing = requests.get(f"{server.url()}/v2/{name}/blobs/sha256:{'0' * 64}", timeout=5)
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"] == "BLOB_UNKNOWN"
    unknown = requests.get(f"{server.url()}/v2/no/such/manifests/1", timeout=5)
    assert unknown.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    write = requests.put(f"{server.url()}/v2/{name}/manifests/evil", data=b"{}", timeout=5)
    assert write.status_code == 405 and write.json()["errors"][0]["code"] == "UNSUPPORTED"
    assert requests.delete(url, timeout=5).status_code == 405
    assert requests.get(url, timeout=5).content == data  # still there


def test_the_files_tree_is_served_beside_the_registry(server: RoomServer) -> None:
    url = f"{server.url()}/tools/helm.tar.gz"
    assert requests.get(url, timeout=5).content == b"0123456789" * 100
    part = requests.get(url, headers={"Range": "bytes=995-"}, timeout=5)
    assert part.status_code == 206 and part.content == b"56789"
    assert requests.get(f"{server.url()}/tools/../../etc/passwd", timeout=5).status_code == 404
    assert requests.get(f"{server.url()}/tools/", timeout=5).status_code == 404


def test_a_corrupt_blob_in_the_mirror_is_refused_by_name(room: Room, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "mirror"
    shutil.copytree(room.root, copy)
    digest = next(iter(room.app.blobs))
    blob = copy / "v2" / room.namespace / room.app.name / "blobs" / digest
    blob.write_bytes(b"x" * blob.stat().st_size)
    logged: list[str] = []
    with serve_directory(copy, "127.0.0.1", 0, log=logged.append) as served:
        url = f"{served.url()}/v2/{room.namespace}/{room.app.name}/blobs/{digest}"
        answer = requests.get(url, timeout=5)
    assert answer.status_code == 500
    assert digest in answer.json()["errors"][0]["message"]
    assert any(line.startswith("refused:") and digest in line for line in logged)


# --- real clients --------------------------------------------------------------------


@pytest.mark.skipif(dockerd_service.available() is not None, reason="needs root for dockerd")
def test_a_real_docker_engine_pulls_from_the_room_with_digests_intact(
    room: Room, server: RoomServer
) -> None:
    with dockerd_service.running_dockerd() as engine:
        for built in (room.app, room.multi):
            pulled = f"127.0.0.1:{server.port}/{room.namespace}/{built.name}:{built.tag}"
            result = engine.cli("pull", pulled)
            assert result.returncode == 0, result.stderr
            assert f"Digest: {built.digest}" in result.stdout
        inspected = engine.client.images.get(
            f"127.0.0.1:{server.port}/{room.namespace}/{room.multi.name}:3.0"
        )
        amd64 = room.multi.children[0]
        config = json.loads(amd64.manifest)["config"]["digest"]
        assert inspected.id == config  # the amd64 child of the index, by its config digest
    clients = server.stats.bytes_by_client
    assert clients.get("127.0.0.1", 0) >= room.app.size


@pytest.mark.skipif(containerd_service.available() is not None, reason="needs root")
def test_real_containerd_pulls_through_the_hosts_toml_mboxed_writes(
    room: Room, server: RoomServer, tmp_path: Path
) -> None:
    hosts_dir = tmp_path / "certs.d"
    for rel, text in hosts_files([room.upstream_host], server.url()).items():
        (hosts_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (hosts_dir / rel).write_text(text)
    with containerd_service.running_containerd() as containerd:
        for built in (room.app, room.multi):
            # the upstream registry is stopped: only the room can answer
            result = containerd.ctr(
                "images", "pull", "--hosts-dir", str(hosts_dir), room.ref(built)
            )
            assert result.returncode == 0, result.stderr + result.stdout
        digests = containerd.image_digests()
    assert digests[room.ref(room.app)] == room.app.digest
    assert digests[room.ref(room.multi)] == room.multi.digest
    asked = [path for method, path, status in server.stats.requests if status == 200]
    assert f"/v2/{room.app.name}/manifests/1.0" in asked  # the ns= form
    blob = hashlib.sha256(next(iter(room.app.blobs.values()))).hexdigest()
    assert any(blob in path for path in asked)
