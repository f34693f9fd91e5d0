"""Step `ready` against the Kubernetes API stand-in (tests/fakes/kube_api.py),
read through the real `kubernetes` client."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from mboxed.engine import Pipeline
from mboxed.errors import Deferred, MboxedError
from mboxed.steps.ready import ReadyFacts, ReadyStep, Unit, plan_ready, release_view
from tests.fakes.kube_api import KubeAPIServer, load_object
from tests.steps.sciencebox_world import World, make_world, when_progress

RELEASE = {"meta.helm.sh/release-name": "sciencebox", "meta.helm.sh/release-namespace": "default"}


def meta(name: str, uid: str, owner: tuple[str, str, str] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"name": name, "namespace": "default", "uid": uid, "generation": 1}
    if owner is None:
        data["annotations"] = dict(RELEASE)
    else:
        kind, owner_name, owner_uid = owner
        data["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": kind, "name": owner_name, "uid": owner_uid,
             "controller": True}
        ]  # fmt: skip
    return data


def deployment(name: str, ready: bool) -> dict[str, Any]:
    n = 1 if ready else 0
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name, f"uid-{name}"),
        "spec": {"replicas": 1},
        "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                   "readyReplicas": n, "availableReplicas": n},
    }  # fmt: skip


def replicaset(deploy: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": meta(
            f"{deploy}-7b9c", f"uid-{deploy}-rs", ("Deployment", deploy, f"uid-{deploy}")
        ),
        "spec": {"replicas": 1},
    }  # fmt: skip


def statefulset(name: str, ready: bool) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta(name, f"uid-{name}"),
        "spec": {"replicas": 1},
        "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                   "readyReplicas": 1 if ready else 0},
    }  # fmt: skip


def daemonset(name: str, ready: bool) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": meta(name, f"uid-{name}"),
        "status": {"observedGeneration": 1, "desiredNumberScheduled": 1,
                   "updatedNumberScheduled": 1, "numberReady": 1 if ready else 0,
                   "numberAvailable": 1 if ready else 0},
    }  # fmt: skip


def pod_from(recorded: str, name: str, owner: tuple[str, str, str]) -> dict[str, Any]:
    obj = copy.deepcopy(load_object(recorded))
    obj["metadata"] = meta(name, f"uid-{name}", owner)
    return obj


def release_objects() -> list[dict[str, Any]]:
    """A small release: 2 Deployments, a StatefulSet, a DaemonSet; three stuck pods."""
    return [
        deployment("sciencebox-cernboxweb", ready=False),
        replicaset("sciencebox-cernboxweb"),
        pod_from(
            "pod-imagepullbackoff.json",
            "sciencebox-cernboxweb-7b9c-abcde",
            ("ReplicaSet", "sciencebox-cernboxweb-7b9c", "uid-sciencebox-cernboxweb-rs"),
        ),
        deployment("sciencebox-swan", ready=False),
        replicaset("sciencebox-swan"),
        pod_from(
            "pod-crashloopbackoff.json",
            "sciencebox-swan-7b9c-m2n3p",
            ("ReplicaSet", "sciencebox-swan-7b9c", "uid-sciencebox-swan-rs"),
        ),
        statefulset("sciencebox-mgm", ready=False),
        pod_from(
            "pod-pending-unschedulable.json",
            "sciencebox-mgm-0",
            ("StatefulSet", "sciencebox-mgm", "uid-sciencebox-mgm"),
        ),
        daemonset("sciencebox-fusex", ready=True),
    ]


@pytest.fixture
def api() -> Any:
    with KubeAPIServer() as server:
        yield server


def world_on(api: KubeAPIServer, tmp_path: Path, **kwargs: Any) -> World:
    world = make_world(tmp_path, **kwargs)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", context="fake")
    world.record("cluster", {"context": "fake", "kubeconfig": str(kubeconfig)})
    world.record("sciencebox", {"release": "sciencebox", "namespace": "default", "revision": 1})
    return world


def make_ready(api: KubeAPIServer) -> None:
    """What the controllers would do once images are pulled."""
    for kind, name in (
        ("Deployment", "sciencebox-cernboxweb"),
        ("Deployment", "sciencebox-swan"),
        ("StatefulSet", "sciencebox-mgm"),
    ):
        obj = api.get(kind, name, "default")
        assert obj is not None
        obj["status"].update(readyReplicas=1, availableReplicas=1)
        api.add(obj)


def test_three_way_waits_with_a_progress_counter_then_has_nothing_to_do(
    api: KubeAPIServer, tmp_path: Path
) -> None:
    for obj in release_objects():
        api.add(obj)
    world = world_on(api, tmp_path)
    step = ReadyStep(interval=0.05)

    facts = step.facts(world.ctx)
    plan = step.plan(world.ctx, facts)
    assert facts.counter() == "1/4 ready"
    assert "wait for 3 of 4 workloads" in plan.actions[0].summary
    assert "statefulset/sciencebox-mgm" in plan.actions[0].summary

    when_progress(world, "1/4 ready", lambda: make_ready(api))
    assert Pipeline([step], retry_wait=0).up(world.ctx)[0].outcome == "done"
    progress = world.out.getvalue()
    assert "ready: 1/4 ready" in progress and "ready: 4/4 ready" in progress
    assert world.ctx.outputs("ready") == {"workloads": 4, "ready": 4}

    assert Pipeline([step], retry_wait=0).up(world.ctx)[0].outcome == "skipped"


def test_timeout_names_every_stuck_pod_and_why(api: KubeAPIServer, tmp_path: Path) -> None:
    for obj in release_objects():
        api.add(obj)
    api.logs[("default", "sciencebox-swan-7b9c-m2n3p")] = (
        "starting jupyterhub\nloading config\n"
        "[E] KeyCloakAuthenticator: cannot reach https://box.example.org/.well-known\n"
    )
    world = world_on(api, tmp_path, overrides=("provider.memory=6g",))
    step = ReadyStep(interval=0.05, timeout=0.3)

    with pytest.raises(MboxedError) as caught:
        Pipeline([step], retry_wait=0).up(world.ctx)
    message = caught.value.message
    assert "not ready after 0.3s: 1/4 ready" in message
    assert "sciencebox-cernboxweb-7b9c-abcde: ImagePullBackOff" in message
    assert "registry.cern.ch/sciencebox/cernbox-web:does-not-exist" in message
    assert "sciencebox-swan-7b9c-m2n3p: CrashLoopBackOff" in message
    assert "[E] KeyCloakAuthenticator: cannot reach" in message
    assert "sciencebox-mgm-0: Pending" in message
    assert "1 Insufficient memory" in message
    assert "raise provider.memory (now 6g)" in message
    assert "mboxed up" in caught.value.hint


def test_objects_of_other_releases_are_not_waited_for(api: KubeAPIServer, tmp_path: Path) -> None:
    api.add(deployment("sciencebox-web", ready=True))
    other = deployment("someone-else", ready=False)
    other["metadata"]["annotations"]["meta.helm.sh/release-name"] = "other"
    api.add(other)
    world = world_on(api, tmp_path)
    facts = ReadyStep().facts(world.ctx)
    assert [u.name for u in facts.units] == ["sciencebox-web"]
    assert ReadyStep().plan(world.ctx, facts).empty


def test_deferred_until_the_release_is_installed(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    with pytest.raises(Deferred, match="after cluster"):
        ReadyStep().facts(world.ctx)
    world.record("cluster", {"context": "fake"})
    with pytest.raises(Deferred, match="after sciencebox"):
        ReadyStep().facts(world.ctx)


def test_helm_install_creates_the_workloads_ready_then_watches(
    api: KubeAPIServer, tmp_path: Path
) -> None:
    """sciencebox (through the helm stand-in) then ready, on one API."""
    from tests.steps.test_sciencebox import VALUES, Values, installed_world, postrender

    objects = tmp_path / "objects.json"
    objects.write_text(json.dumps([deployment("sciencebox-web", ready=False)]))
    world = installed_world(
        tmp_path,
        env={"MBOXED_FAKE_KUBE_API": api.url, "MBOXED_FAKE_HELM_OBJECTS": str(objects)},
    )
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", context="fake")
    world.record("cluster", {"context": "fake", "kubeconfig": str(kubeconfig)})
    from mboxed.steps.sciencebox import ScienceBoxStep

    step = ReadyStep(interval=0.05)
    Pipeline([ScienceBoxStep(Values(VALUES), postrender)], retry_wait=0).up(world.ctx)
    created = api.get("Deployment", "sciencebox-web", "default")
    assert created is not None
    assert created["metadata"]["annotations"]["meta.helm.sh/release-name"] == "sciencebox"

    def roll_out() -> None:
        obj = api.get("Deployment", "sciencebox-web", "default")
        assert obj is not None
        obj["status"].update(readyReplicas=1, availableReplicas=1)
        api.add(obj)

    when_progress(world, "0/1 ready", roll_out)
    assert Pipeline([step], retry_wait=0).up(world.ctx)[0].outcome == "done"
    assert "ready: 0/1 ready" in world.out.getvalue()


def test_plan_table() -> None:
    def facts(*states: bool) -> ReadyFacts:
        return ReadyFacts(tuple(Unit("Deployment", f"d{i}", s, "") for i, s in enumerate(states)))

    assert plan_ready(facts(), "sb").actions[0].summary.startswith("wait for the workloads")
    assert plan_ready(facts(True, True), "sb").reason == "all 2 workloads of release sb are ready"
    many = plan_ready(facts(*([False] * 7)), "sb").actions[0].summary
    assert "wait for 7 of 7 workloads" in many and "and 2 more" in many


def test_release_view_follows_owner_references_and_counts_jobs_and_bare_pods() -> None:
    job = {
        "kind": "Job",
        "metadata": meta("sciencebox-ldap-init", "uid-job"),
        "spec": {"completions": 1},
        "status": {"succeeded": 1},
    }
    job_pod = pod_from("pod-running.json", "sciencebox-ldap-init-x", ("Job", "j", "uid-job"))
    job_pod["status"]["phase"] = "Succeeded"
    bare = pod_from("pod-imagepullbackoff.json", "sciencebox-test", ("Job", "x", "nobody"))
    bare["metadata"] = meta("sciencebox-test", "uid-bare")
    stray = pod_from("pod-running.json", "unrelated", ("ReplicaSet", "rs", "uid-unknown"))
    view = release_view({"Job": [job], "Pod": [job_pod, bare, stray]}, "sciencebox", "default")
    assert [(u.kind, u.name, u.ready) for u in view.units] == [
        ("Job", "sciencebox-ldap-init", True),
        ("Pod", "sciencebox-test", False),
    ]
    assert sorted(p["metadata"]["name"] for p in view.pods) == [
        "sciencebox-ldap-init-x",
        "sciencebox-test",
    ]
