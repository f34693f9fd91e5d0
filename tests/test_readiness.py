"""mboxed.readiness: the rollout checks on recorded API objects, and the
waits against the Kubernetes API stand-in, with the real client."""

from __future__ import annotations

from pathlib import Path

import pytest

from mboxed import kube, readiness
from mboxed.errors import MboxedError
from tests.fakes.kube_api import KubeAPIServer, load_object
from tests.test_kube import refuse


def test_node_and_workload_readiness_on_recorded_objects() -> None:
    assert readiness.node_readiness(load_object("node-minikube-ready.json")).ready
    notready = readiness.node_readiness(load_object("node-minikube-notready.json"))
    assert not notready.ready and "cni plugin not initialized" in notready.detail
    ready = readiness.workload_readiness(
        load_object("deployment-ingress-nginx-controller-ready.json")
    )
    assert ready.ready and ready.detail == "1/1 ready"
    progressing = load_object("deployment-ingress-nginx-controller-progressing.json")
    assert not readiness.workload_readiness(progressing).ready
    assert readiness.workload_readiness(load_object("daemonset-kube-proxy-ready.json")).ready


def test_waits_report_progress_and_are_bounded(tmp_path: Path) -> None:
    with KubeAPIServer() as api:
        client = kube.api_client("fake", str(api.write_kubeconfig(tmp_path / "config")))
        api.add(load_object("node-minikube-notready.json"))
        notes: list[str] = []
        with pytest.raises(MboxedError) as err:
            readiness.wait_nodes_ready(client, timeout=0.3, interval=0.1, progress=notes.append)
        assert "not ready after 0.3s" in err.value.message
        assert notes and "0/1 ready" in notes[0]
        api.add(load_object("node-minikube-ready.json"))
        readiness.wait_nodes_ready(client, timeout=2, interval=0.1, progress=notes.append)
        assert notes[-1] == "nodes: 1/1 ready"

        api.add(load_object("deployment-ingress-nginx-controller-progressing.json"))
        with pytest.raises(MboxedError):
            readiness.wait_workload_ready(
                client,
                "Deployment",
                "ingress-nginx",
                "ingress-nginx-controller",
                timeout=0.2,
                interval=0.1,
            )
        api.add(load_object("deployment-ingress-nginx-controller-ready.json"))
        readiness.wait_workload_ready(
            client, "Deployment", "ingress-nginx", "ingress-nginx-controller", timeout=1
        )


@pytest.mark.parametrize("code", [503, 403])
def test_a_refusal_while_waiting_counts_as_not_ready_yet(tmp_path: Path, code: int) -> None:
    # An API server that is warming up refuses (403) until its RBAC is ready:
    # the wait keeps polling and fails only at its deadline, naming the refusal.
    with KubeAPIServer() as api:
        client = kube.api_client("fake", str(api.write_kubeconfig(tmp_path / "config")))
        api.before = refuse(code)
        notes: list[str] = []
        with pytest.raises(MboxedError, match="not ready after") as err:
            readiness.wait_nodes_ready(client, timeout=0.2, interval=0.05, progress=notes.append)
        assert f"HTTP {code}" in err.value.message
        assert notes == [f"nodes: {err.value.message.split(': ', 1)[1]}"]
