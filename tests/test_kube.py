"""mboxed.kube against the Kubernetes API stand-in, with the real client."""

from __future__ import annotations

from pathlib import Path

import pytest

from mboxed import kube
from mboxed.errors import MboxedError
from tests.fakes.kube_api import KubeAPIServer, load_object


def test_node_and_workload_readiness_on_recorded_objects() -> None:
    assert kube.node_readiness(load_object("node-minikube-ready.json")).ready
    notready = kube.node_readiness(load_object("node-minikube-notready.json"))
    assert not notready.ready and "cni plugin not initialized" in notready.detail
    ready = kube.workload_readiness(load_object("deployment-ingress-nginx-controller-ready.json"))
    assert ready.ready and ready.detail == "1/1 ready"
    progressing = load_object("deployment-ingress-nginx-controller-progressing.json")
    assert not kube.workload_readiness(progressing).ready
    assert kube.workload_readiness(load_object("daemonset-kube-proxy-ready.json")).ready


def test_api_client_names_a_missing_context(tmp_path: Path) -> None:
    with KubeAPIServer() as api:
        path = api.write_kubeconfig(tmp_path / "config", context="one")
        with pytest.raises(MboxedError) as err:
            kube.api_client("two", str(path))
        assert "'two'" in err.value.message and "one" in err.value.hint
        client = kube.api_client("one", str(path))
        assert kube.server_version(client) == "v1.31.0"
    with pytest.raises(MboxedError, match="does not exist"):
        kube.api_client("one", str(tmp_path / "nope"))


def test_waits_report_progress_and_are_bounded(tmp_path: Path) -> None:
    with KubeAPIServer() as api:
        client = kube.api_client("fake", str(api.write_kubeconfig(tmp_path / "config")))
        api.add(load_object("node-minikube-notready.json"))
        notes: list[str] = []
        with pytest.raises(MboxedError) as err:
            kube.wait_nodes_ready(client, timeout=0.3, interval=0.1, progress=notes.append)
        assert "not ready after 0.3s" in err.value.message
        assert notes and "0/1 ready" in notes[0]
        api.add(load_object("node-minikube-ready.json"))
        kube.wait_nodes_ready(client, timeout=2, interval=0.1, progress=notes.append)
        assert notes[-1] == "nodes: 1/1 ready"

        api.add(load_object("deployment-ingress-nginx-controller-progressing.json"))
        with pytest.raises(MboxedError):
            kube.wait_workload_ready(
                client,
                "Deployment",
                "ingress-nginx",
                "ingress-nginx-controller",
                timeout=0.2,
                interval=0.1,
            )
        api.add(load_object("deployment-ingress-nginx-controller-ready.json"))
        kube.wait_workload_ready(
            client, "Deployment", "ingress-nginx", "ingress-nginx-controller", timeout=1
        )


def test_missing_permissions_asks_the_api(tmp_path: Path) -> None:
    with KubeAPIServer() as api:
        client = kube.api_client("fake", str(api.write_kubeconfig(tmp_path / "config")))
        api.access = lambda attrs: attrs.get("verb") != "delete"
        denied = kube.missing_permissions(
            client, [("create", "apps", "deployments", "sb"), ("delete", "", "pods", "")]
        )
        assert denied == ["delete pods (cluster-wide)"]


def test_apply_manifests_creates_then_updates(tmp_path: Path) -> None:
    with KubeAPIServer() as api:
        client = kube.api_client("fake", str(api.write_kubeconfig(tmp_path / "config")))
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "x"},
              "data": {"k": "1"}}  # fmt: skip
        assert kube.apply_manifests(client, [cm]) == ["configmap/a"]
        kube.apply_manifests(client, [{**cm, "data": {"k": "2"}}])
        stored = api.get("ConfigMap", "a", "x")
        assert stored is not None and stored["data"] == {"k": "2"}
        assert any("fieldManager=mboxed" in path for _, path in api.requests)
