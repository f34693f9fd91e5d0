"""An existing cluster's pre-pull DaemonSet, against the Kubernetes API
stand-in whose kubelets pull init containers' images into each node's store
(tests/fakes/kubelet.py): progress in nodes, the digest the node resolved,
failures named, the DaemonSets removed when done, failed, and on `down`."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from mboxed import kube
from mboxed.engine import Pipeline
from mboxed.images.daemonset_pull import NOOP, DaemonSetPuller, daemonset, daemonset_name
from mboxed.images.pull import PullFailed
from mboxed.images.reference import parse
from mboxed.steps.images import ImagesStep
from mboxed.tasks import stored
from tests.context import make_context
from tests.fakes.kube_api import KubeAPIServer, load_object
from tests.fakes.kubelet import Kubelets
from tests.steps.images_world import manifest

IMAGE = "registry.example.org/sb/cernbox:1.0"
DIGEST = "sha256:" + "c" * 64


def node(name: str) -> dict[str, object]:
    obj = load_object("node-kind-ready.json")
    obj["metadata"]["name"] = name
    obj["status"].pop("images", None)
    return obj


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[KubeAPIServer, object]]:
    with KubeAPIServer(controllers=True) as api:
        api.kubelets = Kubelets(registry={IMAGE: (DIGEST, 123_456)}, default_seconds=0.1)
        api.add(node("n1"))
        api.add(node("n2"))
        config = api.write_kubeconfig(tmp_path / "kubeconfig", context="prod")
        yield api, kube.api_client("prod", str(config))


def test_every_node_pulls_progress_is_in_nodes_and_the_daemonset_goes(
    cluster: tuple[KubeAPIServer, object],
) -> None:
    api, client = cluster
    api.kubelets.pull_seconds = {"n2": 0.5}  # a slower node
    puller = DaemonSetPuller(client, "sciencebox", interval=0.05)
    seen: list[tuple[int, int]] = []
    pulled = puller.pull(parse(IMAGE), lambda done, total: seen.append((done, total)))
    assert (pulled.digest, pulled.size) == (DIGEST, 123_456)
    assert (1, 2) in seen and seen[-1] == (2, 2)  # n1 had it before n2
    assert sorted(api.kubelets.pulls) == [("n1", IMAGE), ("n2", IMAGE)]
    assert api.objects("DaemonSet") == [] and api.objects("Pod") == []
    on_node = {i.id for i in puller.images()}
    assert DIGEST in on_node
    # a second pull is on every node at once (IfNotPresent): no new pull
    puller.pull(parse(IMAGE), lambda done, total: None)
    assert len(api.kubelets.pulls) == 2


def test_the_daemonset_pulls_with_an_init_container_running_z2jhs_no_op(
    cluster: tuple[KubeAPIServer, object],
) -> None:
    api, client = cluster
    api.kubelets.default_seconds = 30.0  # still pulling while we look
    puller = DaemonSetPuller(client, "sciencebox", interval=0.05, timeout=0.3)
    with pytest.raises(PullFailed, match="0 of 2 nodes have it"):
        puller.pull(parse(IMAGE), lambda done, total: None)
    assert api.objects("DaemonSet") == []  # removed even when it failed
    (created,) = [
        path for method, path in api.requests if method == "PATCH" and "daemonsets" in path
    ]
    assert daemonset_name(IMAGE) in created


def test_a_failed_pull_names_the_image_the_node_and_the_registrys_answer(
    cluster: tuple[KubeAPIServer, object],
) -> None:
    api, client = cluster
    api.kubelets.serve_all = False
    gone = "registry.example.org/sb/gone:1"
    with pytest.raises(PullFailed) as failed:
        DaemonSetPuller(client, "sciencebox", interval=0.05).pull(parse(gone), lambda d, t: None)
    assert failed.value.message.startswith(f"pulling {gone} failed: node n")
    assert f'failed to resolve reference "{gone}"' in failed.value.message
    assert "--mirror" in failed.value.hint
    assert api.objects("DaemonSet") == []


def test_the_daemonset_is_what_z2jh_makes_one_image_each() -> None:
    ds = daemonset(IMAGE, "sciencebox")
    spec = ds["spec"]["template"]["spec"]
    (init,) = spec["initContainers"]
    assert (init["image"], init["command"], init["imagePullPolicy"]) == (
        IMAGE,
        NOOP,
        "IfNotPresent",
    )
    assert NOOP == ["/bin/sh", "-c", 'echo "Pulling complete"']
    assert spec["tolerations"] == [{"operator": "Exists"}]


def test_the_images_step_on_an_existing_cluster_pulls_through_daemonsets_and_down_cleans_up(
    cluster: tuple[KubeAPIServer, object], tmp_path: Path
) -> None:
    api, client = cluster
    other = "registry.example.org/sb/eos:5.0"
    out = io.StringIO()
    overrides = ["hostname=box.example.org", "provider.name=existing", "provider.context=prod"]
    ctx = make_context(tmp_path, overrides=overrides, out=out)
    ctx.state.step("cluster").data.update(status="done", outputs={"provider": "existing"})
    puller = DaemonSetPuller(client, "sciencebox", interval=0.05)
    text = manifest([IMAGE, other])
    step = ImagesStep(render=lambda ctx: text, puller_for=lambda ctx: puller)
    (result,) = Pipeline([step], retry_wait=0).up(ctx)
    assert result.outcome == "done"
    task = stored(ctx.state, "images")
    assert {k: v["digest"] for k, v in task["items"].items()}[IMAGE] == DIGEST
    assert task["status"] == "done"
    (again,) = Pipeline([step], retry_wait=0).up(ctx)
    assert again.outcome == "skipped"
    assert len(api.kubelets.pulls) == 4  # two images, two nodes, once each
    # a killed run's DaemonSet left behind goes on `down`
    kube.apply_manifests(client, [daemonset(other, "sciencebox")])
    Pipeline([step], retry_wait=0).down(ctx)
    assert api.objects("DaemonSet") == []
