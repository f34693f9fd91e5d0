"""The containerd hosts.toml mboxed writes (checked for real by
tests/test_mirror_server.py with ctr), and kind's config patch for it."""

from __future__ import annotations

import tomllib

import pytest
import yaml

from mboxed.errors import MboxedError
from mboxed.images.reference import parse
from mboxed.images.room_pull import hosts_files, registries_of, render_hosts_toml, room_host
from mboxed.providers.room_nodes import REGISTRY_CONFIG_PATCH, with_registry_config_path


def test_hosts_toml_puts_the_room_before_the_registry_for_pull_and_resolve() -> None:
    text = render_hosts_toml("docker.io", "http://10.0.0.5:8080/")
    parsed = tomllib.loads(text)
    assert parsed["server"] == "https://registry-1.docker.io"
    assert parsed["host"] == {"http://10.0.0.5:8080": {"capabilities": ["pull", "resolve"]}}
    assert tomllib.loads(render_hosts_toml("127.0.0.1:5000", "http://r:1"))["server"] == (
        "http://127.0.0.1:5000"
    )


def test_one_file_per_registry_of_the_images() -> None:
    refs = [parse(r) for r in ("busybox", "quay.io/x/y:1", "registry.k8s.io/pause:3.10", "a/b")]
    files = hosts_files(registries_of(refs), "http://room:8080")
    assert sorted(files) == [
        "docker.io/hosts.toml",
        "quay.io/hosts.toml",
        "registry.k8s.io/hosts.toml",
    ]


@pytest.mark.parametrize("url", ["ftp://room", "http://room:8080/sub", "room:8080"])
def test_a_room_url_that_is_not_a_base_url_is_refused(url: str) -> None:
    with pytest.raises(MboxedError, match="not the base URL of a room mirror"):
        room_host(url)


def test_kind_config_gets_the_config_path_patch_once() -> None:
    base = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n"
    once = with_registry_config_path(base)
    twice = with_registry_config_path(once)
    config = yaml.safe_load(twice)
    assert config["containerdConfigPatches"] == [REGISTRY_CONFIG_PATCH]
    assert config["nodes"] == [{"role": "control-plane"}]
