"""kind: config rendering, host ports, parsers, the pinned node image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mboxed.errors import MboxedError, ProfileError
from mboxed.providers import ClusterSpec, choose_host_ports
from mboxed.providers import kind as kind_module
from mboxed.providers.kind import (
    INGRESS_NGINX_PATH,
    INGRESS_NGINX_SHA256,
    KindProvider,
    ingress_manifest_url,
    node_address,
)
from mboxed.providers.kind_config import (
    image_version,
    node_image,
    parse_clusters,
    parse_node_containers,
    parse_port_bindings,
    render_config,
)
from tests.fakes.kube_api import load_object
from tests.providers.world import World, make_world


def test_parse_clusters_on_captured_output() -> None:
    # `kind get clusters` with two clusters (stdout), and with none (stdout
    # empty; "No kind clusters found." goes to stderr).
    assert parse_clusters("kind\nmboxed\n") == ["kind", "mboxed"]
    assert parse_clusters("") == []
    assert parse_clusters("No kind clusters found.\n") == []


def test_parse_node_containers_and_image_version() -> None:
    out = (
        "mboxed-control-plane\trunning\tkindest/node:v1.31.0@sha256:53df588e04085fd41ae12de0c3fe"
        "4c72f7013bba32a20e7325357a1ac94ba865\nmboxed-worker\texited\tkindest/node:v1.31.0\n"
    )
    nodes = parse_node_containers(out)
    assert [(n.name, n.state) for n in nodes] == [
        ("mboxed-control-plane", "running"),
        ("mboxed-worker", "exited"),
    ]
    assert image_version(nodes[0].image) == "v1.31.0"
    assert image_version("kindest/node") is None


def test_node_image_is_pinned_by_digest() -> None:
    assert node_image("v1.31.0") == (
        "kindest/node:v1.31.0@sha256:53df588e04085fd41ae12de0c3fe4c72f7013bba32a20e7325357a1ac94ba865"
    )
    with pytest.raises(ProfileError) as err:
        node_image("v1.99.0")
    assert "v1.31.0" in err.value.hint


def test_config_maps_ingress_ports_and_labels_the_node() -> None:
    spec = ClusterSpec("kind", "mboxed", kubernetes_version="v1.30.4")
    config = yaml.safe_load(render_config(spec, 8080, 8443))
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert config["name"] == "mboxed"
    [node] = config["nodes"]
    assert node["role"] == "control-plane"
    assert node["image"].startswith("kindest/node:v1.30.4@sha256:")
    patch = yaml.safe_load(node["kubeadmConfigPatches"][0])
    assert patch["kind"] == "InitConfiguration"
    assert patch["nodeRegistration"]["kubeletExtraArgs"]["node-labels"] == "ingress-ready=true"
    assert node["extraPortMappings"] == [
        {"containerPort": 80, "hostPort": 8080, "protocol": "TCP"},
        {"containerPort": 443, "hostPort": 8443, "protocol": "TCP"},
    ]


def test_other_host_ports_when_80_and_443_are_taken() -> None:
    assert choose_host_ports(lambda port: True) == (80, 443)
    assert choose_host_ports(lambda port: port not in (80, 443)) == (8080, 8443)


def test_manifest_url_is_pinned_and_mirrorable() -> None:
    assert ingress_manifest_url(None) == (
        "https://raw.githubusercontent.com/kubernetes/ingress-nginx/controller-v1.11.2"
        "/deploy/static/provider/kind/deploy.yaml"
    )
    assert ingress_manifest_url("http://127.0.0.1:9/") == "http://127.0.0.1:9" + INGRESS_NGINX_PATH


def test_node_address_prefers_the_ingress_ready_node() -> None:
    plain = load_object("node-minikube-ready.json")
    ingress = load_object("node-kind-ready.json")
    assert node_address([plain, ingress], prefer_label="ingress-ready") == "172.18.0.2"
    assert node_address([plain]) == "192.168.49.2"


def kind_in(world: World, tmp_path: Path, **options: Any) -> KindProvider:
    """The cluster `mboxed` on the world's fake kind, cache and config in tmp_path."""
    return KindProvider(
        ClusterSpec("kind", "mboxed"),
        world.ctx.shell,
        cache_dir=tmp_path / "cache",
        config_dir=tmp_path,
        **options,
    )


def test_taken_ports_are_remapped_for_real(tmp_path: Path) -> None:
    with make_world(tmp_path, "provider.name=kind") as world:
        provider = kind_in(world, tmp_path, is_free=lambda port: port not in (80, 443))
        notes: list[str] = []
        assert provider.ensure(notes.append) is True
        assert provider.host_ports == (8080, 8443)
        assert any("8080/8443" in n for n in notes)
        assert world.tool_state("kind")["clusters"]["mboxed"]["host_ports"] == [8080, 8443]
        # ensure again: the cluster runs, nothing is created
        assert provider.ensure(notes.append) is False
        creates = [c for c in world.calls("kind") if c[1:3] == ["create", "cluster"]]
        assert len(creates) == 1


def test_load_image_into_the_cluster(tmp_path: Path) -> None:
    with make_world(tmp_path, "provider.name=kind") as world:
        provider = kind_in(world, tmp_path)
        provider.ensure(lambda _: None)
        provider.load_image("registry.cern.ch/sciencebox/swan:0.0.1")
        assert world.calls("kind")[-1] == [
            "kind", "load", "docker-image", "registry.cern.ch/sciencebox/swan:0.0.1",
            "--name", "mboxed",
        ]  # fmt: skip
        cluster = world.tool_state("kind")["clusters"]["mboxed"]
        assert cluster["images"] == ["registry.cern.ch/sciencebox/swan:0.0.1"]


def test_the_ingress_manifest_is_used_only_when_its_sha256_is_the_pinned_one(
    tmp_path: Path,
) -> None:
    assert len(INGRESS_NGINX_SHA256) == 64 and int(INGRESS_NGINX_SHA256, 16) >= 0
    with make_world(tmp_path, "provider.name=kind") as world:
        served = tmp_path / "mirror" / INGRESS_NGINX_PATH.lstrip("/")

        def provider() -> KindProvider:
            return kind_in(world, tmp_path, mirror=world.ctx.options.mirror)

        documents = provider().ingress_manifest()
        assert {d["kind"] for d in documents} >= {"Namespace", "Deployment"}
        cached = tmp_path / "cache" / "downloads"
        assert [p.name for p in cached.iterdir()] == [kind_module.INGRESS_NGINX_SHA256]
        # cached: a second read needs no mirror at all
        served.unlink()
        assert provider().ingress_manifest() == documents
        # a tampered file from the mirror is refused and nothing is cached
        served.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: evil}\n")
        (cached / kind_module.INGRESS_NGINX_SHA256).unlink()
        with pytest.raises(MboxedError, match="checksum mismatch"):
            provider().ingress_manifest()
        assert list(cached.iterdir()) == []


def test_port_bindings_of_the_node_container() -> None:
    # `docker inspect --format '{{json .HostConfig.PortBindings}}' NODE` of a
    # kind node published on 8080/8443 (docker's nat.PortMap).
    text = (
        '{"443/tcp":[{"HostIp":"0.0.0.0","HostPort":"8443"}],'
        '"6443/tcp":[{"HostIp":"127.0.0.1","HostPort":"36715"}],'
        '"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]}\n'
    )
    assert parse_port_bindings(text) == (8080, 8443)
    assert parse_port_bindings('{"6443/tcp":[{"HostIp":"127.0.0.1","HostPort":"1"}]}') is None
    assert parse_port_bindings("null") is None


@pytest.mark.parametrize(
    "argv",
    [
        ["create", "cluster", "--name", "x", "--ports", "80"],
        ["delete", "cluster", "--name", "x", "--force"],
        ["get", "clusters", "-o", "json"],
    ],
)
def test_the_fake_refuses_flags_kind_0_24_does_not_have(tmp_path: Path, argv: list[str]) -> None:
    with make_world(tmp_path) as world:
        result = world.ctx.shell.run(["kind", *argv], check=False)
        assert result.returncode == 1 and "ERROR: unknown" in result.stderr
