"""kind's way: a real, private containerd pulls through `ctr` from a real
registry on loopback (a kind node runs the same ctr against its own
containerd, reached with `docker exec`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mboxed.images.ctr_pull import CtrPuller, kind_node_ctr, parse_images
from mboxed.images.pull import PullFailed, present, recorded_digest
from mboxed.images.reference import parse
from mboxed.shell import Shell
from tests.services import containerd as containerd_service
from tests.services.registry import Registry, push_image, push_index, random_layers


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[containerd_service.Containerd]:
    why = containerd_service.available()
    if why:
        pytest.skip(why)
    with containerd_service.running_containerd(tmp_path_factory.mktemp("containerd")) as daemon:
        yield daemon


def puller(containerd: containerd_service.Containerd) -> CtrPuller:
    # the native snapshotter works on any filesystem (overlayfs may not, in a test box)
    shell = Shell(env={**os.environ, "CONTAINERD_SNAPSHOTTER": "native"})
    return CtrPuller(shell, containerd.ctr_argv(), plain_http=True)


def test_kind_nodes_are_reached_with_docker_exec() -> None:
    assert kind_node_ctr("mboxed-default") == [
        "docker",
        "exec",
        "mboxed-default-control-plane",
        "ctr",
        "--namespace=k8s.io",
    ]


def test_ctr_pulls_records_the_digest_and_pins_a_moved_tag(
    containerd: containerd_service.Containerd, image_registry: Registry
) -> None:
    host = image_registry.url.removeprefix("http://")
    first = push_image(image_registry, "kind/eos", "5", random_layers(2, 30_000), seed="one")
    ref = parse(f"{host}/kind/eos:5")
    ctr = puller(containerd)
    assert not present(ctr.images(), ref)
    seen: list[tuple[int, int]] = []
    pulled = ctr.pull(ref, lambda d, t: seen.append((d, t)))
    assert pulled.digest == first.digest and pulled.size > 0
    assert seen[-1] == (pulled.size, pulled.size)
    store = ctr.images()
    assert recorded_digest(store, ref) == first.digest
    # upstream moves the tag; the pinned pull keeps the first bits under it
    moved = push_image(image_registry, "kind/eos", "5", random_layers(2, 30_000), seed="two")
    pinned = ref.with_digest(first.digest)
    ctr.pull(pinned, lambda d, t: None)
    ctr.tag(pinned, ref)
    store = ctr.images()
    assert present(store, ref, pinned=first.digest)
    assert not present(store, ref, pinned=moved.digest)


def test_ctr_pulls_a_multi_platform_index(
    containerd: containerd_service.Containerd, image_registry: Registry
) -> None:
    host = image_registry.url.removeprefix("http://")
    built = push_index(
        image_registry, "kind/cvmfs", "2", random_layers(1, 20_000), ("amd64", "arm64")
    )
    pulled = puller(containerd).pull(parse(f"{host}/kind/cvmfs:2"), lambda d, t: None)
    assert pulled.digest == built.digest


def test_a_failed_ctr_pull_names_the_image_and_the_answer(
    containerd: containerd_service.Containerd, image_registry: Registry
) -> None:
    host = image_registry.url.removeprefix("http://")
    with pytest.raises(PullFailed) as failed:
        puller(containerd).pull(parse(f"{host}/kind/absent:1"), lambda d, t: None)
    assert f"{host}/kind/absent:1" in failed.value.message
    assert "not found" in failed.value.message
    assert "--mirror" in failed.value.hint


def test_the_ctr_images_table_is_parsed_by_columns(tmp_path: Path) -> None:
    digest = "sha256:" + "ab" * 32
    table = (
        "REF                               TYPE                                                 "
        "DIGEST  SIZE      PLATFORMS   LABELS\n"
        f"docker.io/library/busybox:stable application/vnd.oci.image.index.v1+json {digest} "
        "2.1 MiB linux/amd64,linux/arm64 -\n"
        f"docker.io/library/busybox@{digest} application/vnd.oci.image.index.v1+json {digest} "
        "2.1 MiB linux/amd64 -\n"
    )
    rows = parse_images(table)
    assert rows[0].tags == {"docker.io/library/busybox:stable"}
    assert rows[0].digests == {f"docker.io/library/busybox@{digest}"}
    assert rows[0].size == int(2.1 * 1024**2)
    assert rows[1].tags == frozenset()
