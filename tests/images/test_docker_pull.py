"""A real, private Docker engine pulls from a real registry on loopback
through DockerPuller: byte progress, the digest resolved, pulls by digest
that ignore where the tag moved, a multi-platform index, failures that say
what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from mboxed.images.docker_pull import DockerPuller, client_for, parse_docker_env, stream_digest
from mboxed.images.pull import NodeUnreachable, PullFailed, find, present, recorded_digest
from mboxed.images.reference import parse
from tests.services import dockerd as dockerd_service
from tests.services.registry import (
    Registry,
    push_image,
    push_index,
    random_layers,
)


@pytest.fixture
def engine(private_dockerd: dockerd_service.Dockerd) -> dockerd_service.Dockerd:
    return private_dockerd


@pytest.fixture
def registry(image_registry: Registry) -> Registry:
    return image_registry


def host_of(registry: Registry) -> str:
    return registry.url.removeprefix("http://")


def test_docker_env_json_is_parsed_and_a_unix_endpoint_needs_no_tls(
    engine: dockerd_service.Dockerd,
) -> None:
    env = parse_docker_env(f'{{"DOCKER_HOST": "{engine.host}", "MINIKUBE_ACTIVE_DOCKERD": "m"}}\n')
    assert client_for(env).ping()
    with pytest.raises(ValueError, match="no DOCKER_HOST"):
        parse_docker_env('{"DOCKER_TLS_VERIFY": "1"}')


def test_a_pull_reports_bytes_records_the_digest_and_pins_the_tag(
    engine: dockerd_service.Dockerd, registry: Registry
) -> None:
    built = push_image(registry, "sb/eos", "5.0", random_layers(3, 200_000))
    ref = parse(f"{host_of(registry)}/sb/eos:5.0")
    puller = DockerPuller(client_for({"DOCKER_HOST": engine.host}))
    assert not present(puller.images(), ref)
    seen: list[tuple[int, int]] = []
    pulled = puller.pull(ref, lambda done, total: seen.append((done, total)))
    assert pulled.digest == built.digest
    assert pulled.size > 0
    assert seen[-1] == (built.size, built.size)  # every compressed byte, 3 layers
    store = puller.images()
    assert present(store, ref)
    assert recorded_digest(store, ref) == built.digest
    assert present(store, ref, pinned=built.digest)


def test_by_digest_a_moved_tag_does_not_change_the_bits(
    engine: dockerd_service.Dockerd, registry: Registry
) -> None:
    first = push_image(registry, "sb/nslcd", "stable", random_layers(2, 50_000), seed="one")
    ref = parse(f"{host_of(registry)}/sb/nslcd:stable")
    puller = DockerPuller(client_for({"DOCKER_HOST": engine.host}))
    pinned = ref.with_digest(first.digest)
    # upstream moves the floating tag before this laptop pulls
    moved = push_image(registry, "sb/nslcd", "stable", random_layers(2, 50_000), seed="two")
    assert moved.digest != first.digest
    pulled = puller.pull(pinned, lambda d, t: None)
    puller.tag(pinned, ref)
    assert pulled.digest == first.digest
    store = puller.images()
    assert present(store, ref, pinned=first.digest)
    assert not present(store, ref, pinned=moved.digest)
    assert find(store, ref) == find(store, pinned)


def test_a_multi_platform_index_is_pulled_by_its_index_digest(
    engine: dockerd_service.Dockerd, registry: Registry
) -> None:
    built = push_index(registry, "sb/cvmfs", "2.9", random_layers(2, 30_000), ("amd64", "arm64"))
    ref = parse(f"{host_of(registry)}/sb/cvmfs:2.9")
    puller = DockerPuller(client_for({"DOCKER_HOST": engine.host}))
    pulled = puller.pull(ref, lambda d, t: None)
    assert pulled.digest == built.digest  # the index, valid on every platform
    again = puller.pull(ref.with_digest(built.digest), lambda d, t: None)
    assert again.digest == built.digest


def test_a_failed_pull_names_the_image_the_answer_and_what_to_do(
    engine: dockerd_service.Dockerd, registry: Registry
) -> None:
    puller = DockerPuller(client_for({"DOCKER_HOST": engine.host}))
    ref = parse(f"{host_of(registry)}/sb/absent:1")
    with pytest.raises(PullFailed) as failed:
        puller.pull(ref, lambda d, t: None)
    assert str(ref) in failed.value.message
    assert "manifest unknown" in failed.value.message or "not found" in failed.value.message
    assert "--mirror" in failed.value.hint and "bundle" in failed.value.hint


def test_an_error_in_the_stream_is_a_pull_failure() -> None:
    messages = [
        {"status": "Pulling from x"},
        {"error": "toomanyrequests: You have reached your pull rate limit"},
    ]
    with pytest.raises(PullFailed) as failed:
        stream_digest(messages, lambda d, t: None, "docker.io/library/busybox:stable")
    assert "pull limit" in failed.value.hint


def test_an_engine_that_does_not_answer_is_unreachable_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(NodeUnreachable, match=r"127\.0\.0\.1:9"):
        client_for({"DOCKER_HOST": "tcp://127.0.0.1:9"})
    # minikube's format, certificates missing (a node being recreated)
    env = {"DOCKER_HOST": "tcp://127.0.0.1:9", "DOCKER_TLS_VERIFY": "1"}
    with pytest.raises(NodeUnreachable):
        client_for({**env, "DOCKER_CERT_PATH": str(tmp_path / "none")})
