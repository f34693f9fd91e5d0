"""The images half of the room mirror against a real registry (Debian
docker-registry on 127.0.0.1) holding locally built images: several layers,
Docker v2 and OCI manifests, one multi-platform index."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from mboxed.errors import MboxedError
from mboxed.images.inventory import IF_NOT_PRESENT, Image, Use
from mboxed.images.mirror import (
    ImageMirror,
    mirror_images,
    wanted_from_inventory,
    wanted_from_references,
)
from mboxed.images.oci import node_platforms
from mboxed.images.reference import parse
from tests.images.built import Built, image, index, push
from tests.sciencebox.registry import REGISTRY_BIN, Registry, running_registry

pytestmark = pytest.mark.skipif(REGISTRY_BIN is None, reason="docker-registry not installed")


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("upstream"), token_auth=False) as registry:
        yield registry


@pytest.fixture(scope="module")
def pushed(upstream: Registry) -> dict[str, Built]:
    return {
        "app": push(upstream, image("sciencebox/app", "1.0", layers=4)),
        "oci": push(upstream, image("sciencebox/oci", "2.0", layers=3, oci=True)),
        "multi": push(upstream, index("sciencebox/multi", "3.0")),
    }


def host(registry: Registry) -> str:
    return registry.url.removeprefix("http://")


def ref(registry: Registry, built: Built) -> str:
    return f"{host(registry)}/{built.name}:{built.tag}"


def tree(root: Path, registry: Registry, built: Built) -> Path:
    return root / "v2" / host(registry).replace(":", "_") / built.name


def test_every_layer_and_manifest_is_stored_by_digest_under_the_registry_namespace(
    upstream: Registry, pushed: dict[str, Built], tmp_path: Path
) -> None:
    mirror = ImageMirror(tmp_path, node_platforms(["linux/amd64"]))
    refs = [ref(upstream, pushed["app"]), ref(upstream, pushed["oci"])]
    mirror_images(mirror, wanted_from_references(refs))
    for name in ("app", "oci"):
        built = pushed[name]
        where = tree(tmp_path, upstream, built)
        assert (where / "manifests" / built.tag).read_bytes() == built.manifest
        assert (where / "manifests" / built.digest).read_bytes() == built.manifest
        for digest, data in built.blobs.items():
            assert (where / "blobs" / digest).read_bytes() == data
    assert mirror.bytes_from_source == sum(b.size for b in (pushed["app"], pushed["oci"]))


def test_an_index_keeps_the_index_and_only_the_chosen_platforms(
    upstream: Registry, pushed: dict[str, Built], tmp_path: Path
) -> None:
    multi = pushed["multi"]
    amd64, arm64, attestation = multi.children
    mirror = ImageMirror(tmp_path, node_platforms(["linux/arm64", "darwin/arm64"]))
    mirror_images(mirror, wanted_from_references([ref(upstream, multi)]))
    where = tree(tmp_path, upstream, multi)
    assert (where / "manifests" / "3.0").read_bytes() == multi.manifest
    assert (where / "manifests" / arm64.digest).read_bytes() == arm64.manifest
    assert not (where / "manifests" / amd64.digest).exists()
    assert not (where / "manifests" / attestation.digest).exists()
    assert {p.name for p in (where / "blobs").iterdir()} == set(arm64.blobs)


def test_a_second_run_downloads_nothing_and_a_damaged_blob_is_fetched_again(
    upstream: Registry, pushed: dict[str, Built], tmp_path: Path
) -> None:
    refs = wanted_from_references([ref(upstream, pushed["app"])])
    first = ImageMirror(tmp_path, node_platforms(["linux/amd64"]))
    mirror_images(first, refs)
    again = ImageMirror(tmp_path, node_platforms(["linux/amd64"]))
    mirror_images(again, refs)
    assert again.bytes_from_source == 0 and not again.result.added

    digest, data = next(iter(pushed["app"].blobs.items()))
    blob = tree(tmp_path, upstream, pushed["app"]) / "blobs" / digest
    blob.write_bytes(b"bit rot")
    repair = ImageMirror(tmp_path, node_platforms(["linux/amd64"]))
    mirror_images(repair, refs)
    assert blob.read_bytes() == data
    assert repair.bytes_from_source < pushed["app"].size  # only what was damaged


def test_a_corrupt_blob_upstream_is_refused_by_name_and_leaves_no_tag(
    upstream: Registry, tmp_path: Path
) -> None:
    built = push(upstream, image("evil/corrupt", "1.0", layers=2))
    digest = next(d for d in built.blobs if built.blobs[d][:2] == b"\x1f\x8b")
    upstream.blob_file(digest).write_bytes(b"not the layer")
    mirror = ImageMirror(tmp_path, node_platforms(["linux/amd64"]))
    with pytest.raises(MboxedError, match="refused") as caught:
        mirror_images(mirror, wanted_from_references([ref(upstream, built)]))
    assert "evil/corrupt:1.0" in caught.value.message
    assert digest.partition(":")[2] in caught.value.message
    assert not (tree(tmp_path, upstream, built) / "manifests").exists()
    assert not list(tmp_path.rglob(".part-*"))


def test_a_missing_image_names_itself_and_the_profile_that_needs_it(
    upstream: Registry, tmp_path: Path
) -> None:
    missing = parse(f"{host(upstream)}/sciencebox/nothere:9.9")
    use = Use("Deployment", "cernbox", "web", False, IF_NOT_PRESENT, "", "chart")
    wanted = wanted_from_inventory([Image(missing, (use,))], "workshop")
    with pytest.raises(MboxedError) as caught:
        mirror_images(ImageMirror(tmp_path, node_platforms(["linux/amd64"])), wanted)
    message = caught.value.message
    assert "sciencebox/nothere:9.9" in message and "profile workshop" in message
    assert "Deployment/cernbox container web" in message and "not found" in message


def test_an_index_without_the_chosen_platform_says_which_it_has(
    upstream: Registry, tmp_path: Path
) -> None:
    only = push(upstream, index("sciencebox/amd64only", "1.0", arches=("amd64",)))
    mirror = ImageMirror(tmp_path, node_platforms(["linux/arm64"]))
    with pytest.raises(MboxedError, match=r"no manifest for linux/arm64 \(it has: linux/amd64"):
        mirror_images(mirror, wanted_from_references([ref(upstream, only)]))


def test_a_pinned_reference_is_stored_without_a_tag_and_copies_from_a_room(
    upstream: Registry, pushed: dict[str, Built], tmp_path: Path
) -> None:
    built = pushed["oci"]
    pinned = f"{host(upstream)}/{built.name}@{built.digest}"
    mirror_images(
        ImageMirror(tmp_path / "a", node_platforms(["linux/amd64"])),
        wanted_from_references([pinned]),
    )
    where = tree(tmp_path / "a", upstream, built)
    assert sorted(p.name for p in (where / "manifests").iterdir()) == [built.digest]
    # a second room copies from the first through its server, same layout
    from mboxed.mirror_server import serve_directory

    with serve_directory(tmp_path / "a", "127.0.0.1", 0) as room:
        copy = ImageMirror(tmp_path / "b", node_platforms(["linux/amd64"]), source=room.url())
        mirror_images(copy, wanted_from_references([pinned]))
    copied = tree(tmp_path / "b", upstream, built) / "manifests" / built.digest
    assert hashlib.sha256(copied.read_bytes()).hexdigest() == built.digest.partition(":")[2]
