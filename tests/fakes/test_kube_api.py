"""The Kubernetes API stand-in answers the real `kubernetes` client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from tests.fakes.kube_api import KubeAPIServer, iter_recorded, load_object


@pytest.fixture
def api() -> Iterator[KubeAPIServer]:
    with KubeAPIServer() as server:
        yield server


def _client(api: KubeAPIServer, tmp_path: Path) -> client.ApiClient:
    path = api.write_kubeconfig(tmp_path / "kubeconfig", context="fake")
    return config.new_client_from_config(config_file=str(path), context="fake")


def test_every_recorded_object_is_served_and_lists_by_kind(
    api: KubeAPIServer, tmp_path: Path
) -> None:
    for path in iter_recorded():
        api.add(load_object(path.name))
    core = client.CoreV1Api(_client(api, tmp_path))
    pods = core.list_pod_for_all_namespaces()
    assert {p.metadata.name for p in pods.items} == {
        "coredns-6f6b679f8f-x7k2p",
        "cernbox-5d8f7c9b6d-q4w8z",
        "swan-7b9c6d5f4-m2n3p",
        "eos-fst-0",
    }
    waiting = {
        p.metadata.name: p.status.container_statuses[0].state.waiting.reason
        for p in pods.items
        if p.status.container_statuses and p.status.container_statuses[0].state.waiting
    }
    assert waiting == {
        "cernbox-5d8f7c9b6d-q4w8z": "ImagePullBackOff",
        "swan-7b9c6d5f4-m2n3p": "CrashLoopBackOff",
    }
    in_ns = core.list_namespaced_pod("sciencebox", label_selector="app.kubernetes.io/name=swan")
    assert [p.metadata.name for p in in_ns.items] == ["swan-7b9c6d5f4-m2n3p"]
    nodes = core.list_node()
    assert "minikube" in {n.metadata.name for n in nodes.items}


def test_get_patch_and_delete_a_configmap_round_trip(api: KubeAPIServer, tmp_path: Path) -> None:
    api.add(load_object("configmap-coredns-kubeadm.json"))
    core = client.CoreV1Api(_client(api, tmp_path))
    cm = core.read_namespaced_config_map("coredns", "kube-system")
    assert "forward . /etc/resolv.conf" in cm.data["Corefile"]
    core.patch_namespaced_config_map(
        "coredns", "kube-system", {"data": {"Corefile": "patched", "extra": "x"}}
    )
    stored = api.get("ConfigMap", "coredns", "kube-system")
    assert stored is not None
    assert stored["data"] == {"Corefile": "patched", "extra": "x"}
    assert int(stored["metadata"]["resourceVersion"]) > int(cm.metadata.resource_version)
    core.delete_namespaced_config_map("coredns", "kube-system")
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("coredns", "kube-system")
    assert err.value.status == 404


def test_create_twice_conflicts_and_label_selectors_filter(
    api: KubeAPIServer, tmp_path: Path
) -> None:
    core = client.CoreV1Api(_client(api, tmp_path))
    body = {"metadata": {"name": "a", "labels": {"tier": "web"}}, "data": {"k": "v"}}
    core.create_namespaced_config_map("demo", body)
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("demo", body)
    assert err.value.status == 409
    core.create_namespaced_config_map("demo", {"metadata": {"name": "b"}})

    def names(sel: str) -> list[str]:
        found = core.list_namespaced_config_map("demo", label_selector=sel)
        return [c.metadata.name for c in found.items]

    assert names("tier=web") == ["a"]
    assert names("tier") == ["a"]
    assert names("!tier") == ["b"]
    assert names("tier in (db,web)") == ["a"]
    assert names("tier!=web") == ["b"]
    assert [o["metadata"]["name"] for o in api.objects("ConfigMap")] == ["a", "b"]


def test_apps_deployments_and_version_and_access_review(api: KubeAPIServer, tmp_path: Path) -> None:
    api.add(load_object("deployment-ingress-nginx-controller-progressing.json"))
    api_client = _client(api, tmp_path)
    apps = client.AppsV1Api(api_client)
    dep = apps.read_namespaced_deployment("ingress-nginx-controller", "ingress-nginx")
    assert dep.status.ready_replicas is None
    apps.replace_namespaced_deployment(
        "ingress-nginx-controller",
        "ingress-nginx",
        {**api_client.sanitize_for_serialization(dep), "status": {"readyReplicas": 1}},
    )
    dep = apps.read_namespaced_deployment("ingress-nginx-controller", "ingress-nginx")
    assert dep.status.ready_replicas == 1
    assert client.VersionApi(api_client).get_code().git_version == "v1.31.0"
    api.access = lambda attrs: attrs.get("resource") != "clusterroles"
    auth = client.AuthorizationV1Api(api_client)

    def review(resource: str) -> bool:
        body = {"spec": {"resourceAttributes": {"verb": "create", "resource": resource}}}
        return bool(auth.create_self_subject_access_review(body).status.allowed)

    assert review("deployments") is True
    assert review("clusterroles") is False
