"""Users reach LDAP on every `up`: step `sciencebox` re-runs the chart's
seeding Job when the users' LDIF changed (and recreates the LDAP StatefulSet
when its storage changes), against the `helm` stand-in and the Kubernetes
API stand-in, read and written through the real `kubernetes` client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mboxed.engine import Pipeline
from mboxed.steps.ready import ReadyStep
from mboxed.steps.sciencebox import ScienceBoxStep
from tests.fakes.kube_api import KubeAPIServer
from tests.sciencebox.registry import chart_tgz
from tests.steps.sciencebox_world import World, when_progress
from tests.steps.test_sciencebox import GATEWAY, Values, installed_world, postrender

JOB = "sciencebox-ldap-instance-config"
STS = "sciencebox-ldap"
JOB_PATH = f"/apis/batch/v1/namespaces/default/jobs/{JOB}"
STS_PATH = f"/apis/apps/v1/namespaces/default/statefulsets/{STS}"

# The chart's Job and the LDAP StatefulSet as chart 0.0.8 renders them for
# release `sciencebox` (ldap-instance-config/templates/job.yaml, openldap
# 2.0.4 templates/statefullset.yaml; trimmed to what matters here).
JOB_OBJ: dict[str, Any] = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": JOB, "labels": {"app.kubernetes.io/name": "ldap-instance-config"}},
    "spec": {
        "template": {
            "spec": {
                "restartPolicy": "OnFailure",
                "containers": [
                    {
                        "name": "ldap-instance-config",
                        "image": "osixia/openldap:1.5.0",
                        "command": ["/bin/bash", "/root/instance_config.sh"],
                    }
                ],
            }
        }
    },
}
STS_OBJ: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {"name": STS, "labels": {"app": STS, "release": "sciencebox"}},
    "spec": {"replicas": 1, "serviceName": f"{STS}-headless"},
}
TEMPLATES = {
    **GATEWAY,
    "sciencebox/charts/ldap-instance-config/templates/job.yaml": json.dumps(JOB_OBJ),
    "sciencebox/charts/ldap/templates/statefullset.yaml": json.dumps(STS_OBJ),
}


def ldif(count: int) -> dict[str, str]:
    users = "\n\n".join(f"dn: uid=student{n:02d},ou=users,dc=owncloud,dc=com" for n in range(count))
    return {"10_users.ldif": users + "\n"}


def values(count: int, persistence: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "nginx-welcome-page": {"ingress": {"hostname": "box.example.org"}},
        "ldap": {"persistence": persistence or {"enabled": True, "size": "1Gi"}},
        "ldap-instance-config": {"ldifFiles": ldif(count)},
    }


@pytest.fixture
def api() -> Any:
    with KubeAPIServer() as server:
        yield server


def ldap_world(
    api: KubeAPIServer, tmp_path: Path, extra: dict[str, dict[str, Any]] | None = None
) -> World:
    """The chart's LDAP Job and StatefulSet (and `extra`: `# Source:` -> object)."""
    objects = tmp_path / "objects.json"
    objects.write_text(json.dumps([JOB_OBJ, STS_OBJ, *(extra or {}).values()]))
    world = installed_world(
        tmp_path,
        env={"MBOXED_FAKE_KUBE_API": api.url, "MBOXED_FAKE_HELM_OBJECTS": str(objects)},
    )
    templates = {**TEMPLATES, **{source: json.dumps(o) for source, o in (extra or {}).items()}}
    (tmp_path / "sciencebox-0.0.8.tgz").write_bytes(chart_tgz("sciencebox", "0.0.8", templates))
    # the cluster step's context and kubeconfig point at the API stand-in
    api.write_kubeconfig(tmp_path / "kubeconfig", context="mboxed-default")
    return world


def complete(api: KubeAPIServer, name: str = JOB) -> str:
    """What the Job controller does when the seeding pod exits 0."""
    job = api.get("Job", name, "default")
    assert job is not None
    job["status"] = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
    api.add(job)
    return str(job["metadata"]["uid"])


def run(world: World, step: ScienceBoxStep) -> str:
    return Pipeline([step], retry_wait=0).up(world.ctx)[0].outcome


def writes(api: KubeAPIServer, since: int = 0) -> list[tuple[str, str]]:
    return [(m, p.split("?")[0]) for m, p in api.requests[since:] if m in ("POST", "DELETE")]


def test_more_users_re_run_the_seeding_job_and_an_unchanged_up_runs_nothing(
    api: KubeAPIServer, tmp_path: Path
) -> None:
    world = ldap_world(api, tmp_path)
    source = Values(values(30))
    step = ScienceBoxStep(source, postrender)

    # 1. first install: the upgrade --install creates the Job (and LDAP)
    plan = step.plan(world.ctx, step.facts(world.ctx))
    assert [a.kind for a in plan.actions] == ["install"]
    assert run(world, step) == "done"
    assert ("POST", "/apis/batch/v1/namespaces/default/jobs") in writes(api)
    assert not [w for w in writes(api) if w[0] == "DELETE"]
    first_uid = complete(api)

    # 2. unchanged `up`: nothing deleted, no upgrade, only reads
    mark, upgrades = len(api.requests), len(world.helm_calls("upgrade"))
    assert run(world, step) == "skipped"
    assert writes(api, mark) == []
    assert [m for m, _ in api.requests[mark:]] == ["GET"]  # the Job's state
    assert len(world.helm_calls("upgrade")) == upgrades

    # 3. `up --set users.generate.count=40`: the finished Job is deleted
    #    (pods with it), then the upgrade creates it again with the new LDIF
    source.values = values(40)
    plan = step.plan(world.ctx, step.facts(world.ctx))
    assert [a.kind for a in plan.actions] == ["reseed", "upgrade"]
    assert f"re-run the LDAP seeding job {JOB} (users or groups changed)" in (
        plan.actions[0].summary
    )
    assert "ldap-instance-config.ldifFiles.10_users.ldif" in plan.actions[1].summary
    mark = len(api.requests)
    assert run(world, step) == "done"
    assert writes(api, mark) == [
        ("DELETE", JOB_PATH),
        ("POST", "/apis/batch/v1/namespaces/default/jobs"),  # helm upgrade creates it
        ("POST", "/apis/apps/v1/namespaces/default/statefulsets"),  # exists: 409, kept
    ]
    (delete,) = [p for m, p in api.requests[mark:] if m == "DELETE"]
    assert "propagationPolicy=Background" in delete
    job = api.get("Job", JOB, "default")
    assert job is not None and job["metadata"]["uid"] != first_uid
    assert "status" not in job or not job["status"].get("succeeded")  # runs again
    assert api.get("StatefulSet", STS, "default") is not None  # LDAP itself untouched
    sent = json.loads(world.helm_state()["values_files"][-1]["content"])
    assert sent["ldap-instance-config"]["ldifFiles"] == ldif(40)
    assert len(world.helm_calls("upgrade")) == upgrades + 1

    # 4. and again: converged, nothing to do
    complete(api)
    mark = len(api.requests)
    assert run(world, step) == "skipped"
    assert writes(api, mark) == []


EOS_JOB = "sciencebox-eos-instance-config"
EOS_JOB_OBJ: dict[str, Any] = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": EOS_JOB},
    "spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [
        {"name": "eos-instance-config", "command": ["/bin/bash", "/root/instance_config.sh"]}
    ]}}},
}  # fmt: skip


def with_eos_users(count: int) -> dict[str, Any]:
    users = {f"student{n:02d}": {"uid": 20005 + n, "gid": 30000} for n in range(count)}
    eos = {"eos-instance-config": {"config": {"demoUsers": {"userList": users}}}}
    return {**values(count), **eos}


def test_more_users_re_run_the_eos_configuration_job_too(
    api: KubeAPIServer, tmp_path: Path
) -> None:
    """Ten more students: besides the LDAP seeding Job, the finished EOS
    configuration Job is deleted before the upgrade, which creates it again
    (its script then gives the new students their homes)."""
    source = "sciencebox/charts/eos-instance-config/templates/job.yaml"
    world = ldap_world(api, tmp_path, {source: EOS_JOB_OBJ})
    values_now = Values(with_eos_users(30))
    step = ScienceBoxStep(values_now, postrender)
    assert run(world, step) == "done"
    complete(api)
    first_uid = complete(api, EOS_JOB)
    assert run(world, step) == "skipped"  # unchanged: neither Job runs again

    values_now.values = with_eos_users(40)
    plan = step.plan(world.ctx, step.facts(world.ctx))
    assert [a.kind for a in plan.actions] == ["reseed", "reconfigure-eos", "upgrade"]
    assert f"re-run the EOS configuration job {EOS_JOB} (users changed)" in (
        plan.actions[1].summary
    )
    mark = len(api.requests)
    assert run(world, step) == "done"
    eos_path = f"/apis/batch/v1/namespaces/default/jobs/{EOS_JOB}"
    assert writes(api, mark)[:2] == [("DELETE", JOB_PATH), ("DELETE", eos_path)]
    again = api.get("Job", EOS_JOB, "default")
    assert again is not None and again["metadata"]["uid"] != first_uid
    assert "status" not in again  # created by the upgrade: it runs again


def test_the_ready_step_waits_for_the_re_run_job(api: KubeAPIServer, tmp_path: Path) -> None:
    world = ldap_world(api, tmp_path)
    source = Values(values(30))
    step = ScienceBoxStep(source, postrender)
    run(world, step)
    complete(api)
    api.add({**api.get("StatefulSet", STS, "default"), "status": {  # type: ignore[dict-item]
        "observedGeneration": 1, "replicas": 1, "readyReplicas": 1, "updatedReplicas": 1,
    }})  # fmt: skip
    ready = ReadyStep(interval=0.05)
    assert Pipeline([ready], retry_wait=0).up(world.ctx)[0].outcome == "skipped"  # all ready

    source.values = values(40)
    assert run(world, step) == "done"
    facts = ready.facts(world.ctx)
    assert [u.label for u in facts.waiting] == [f"job/{JOB}"]

    def job_succeeds() -> None:
        complete(api)

    when_progress(world, "1/2 ready", job_succeeds)
    assert Pipeline([ready], retry_wait=0).up(world.ctx)[0].outcome == "done"
    assert "ready: 2/2 ready" in world.out.getvalue()


def test_a_failed_seeding_job_is_named_at_once_and_re_run_by_the_next_up(
    api: KubeAPIServer, tmp_path: Path
) -> None:
    from mboxed.errors import MboxedError

    world = ldap_world(api, tmp_path)
    step = ScienceBoxStep(Values(values(30)), postrender)
    run(world, step)
    job = api.get("Job", JOB, "default")
    assert job is not None
    job["status"] = {
        "failed": 7,
        "conditions": [
            {
                "type": "Failed",
                "status": "True",
                "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit",
            }
        ],
    }
    api.add(job)
    # A long timeout it must not wait out: a failed Job stays failed.
    ready = ReadyStep(interval=0.05, timeout=600)
    with pytest.raises(MboxedError) as caught:
        Pipeline([ready], retry_wait=0).up(world.ctx)
    assert f"job/{JOB} failed: BackoffLimitExceeded" in caught.value.message
    assert f"logs job/{JOB}" in caught.value.hint and "mboxed up" in caught.value.hint

    # `mboxed up` again: same values, but the failed Job is deleted and re-created
    plan = step.plan(world.ctx, step.facts(world.ctx))
    assert [a.kind for a in plan.actions] == ["reseed", "upgrade"]
    assert f"re-run the LDAP seeding job {JOB} (it failed)" in plan.actions[0].summary
    assert f"the LDAP seeding job {JOB} failed" in plan.actions[1].summary
    mark = len(api.requests)
    assert run(world, step) == "done"
    assert writes(api, mark)[:2] == [
        ("DELETE", JOB_PATH),
        ("POST", "/apis/batch/v1/namespaces/default/jobs"),
    ]
    recreated = api.get("Job", JOB, "default")
    assert recreated is not None and "status" not in recreated


def test_a_storage_change_recreates_the_ldap_statefulset_and_the_job(
    api: KubeAPIServer, tmp_path: Path
) -> None:
    """A release installed without an LDAP volume (the chart's default) gets
    one: volumeClaimTemplates cannot change in place, so the StatefulSet and
    the Job (LDAP comes back empty) are deleted before the upgrade."""
    world = ldap_world(api, tmp_path)
    source = Values(values(30, {"enabled": False}))
    step = ScienceBoxStep(source, postrender)
    run(world, step)
    complete(api)
    source.values = values(30)
    plan = step.plan(world.ctx, step.facts(world.ctx))
    assert [a.kind for a in plan.actions] == ["recreate-ldap", "upgrade"]
    assert f"delete statefulset {STS} and job {JOB}" in plan.actions[0].summary
    mark = len(api.requests)
    assert run(world, step) == "done"
    assert writes(api, mark) == [
        ("DELETE", STS_PATH),
        ("DELETE", JOB_PATH),
        ("POST", "/apis/batch/v1/namespaces/default/jobs"),
        ("POST", "/apis/apps/v1/namespaces/default/statefulsets"),
    ]
    # a size the chart would use anyway is no change; another size is
    complete(api)
    source.values = values(30, {"enabled": True, "size": "1Gi", "accessModes": ["ReadWriteOnce"]})
    assert run(world, step) == "done"  # values changed (upgrade), storage did not
    assert not [w for w in writes(api, mark + 4) if w[0] == "DELETE"]


def test_down_on_an_existing_cluster_deletes_every_ldap_claim(
    api: KubeAPIServer, tmp_path: Path
) -> None:
    """helm uninstall leaves StatefulSet claims; LDAP's (old users, old admin
    password) go too, on a cluster mboxed did not create: one per ordinal,
    whatever the replica count (chart 0.0.8 ran three)."""
    world = ldap_world(api, tmp_path)
    world.record("cluster", {**world.ctx.outputs("cluster"), "created_by_mboxed": False})
    step = ScienceBoxStep(Values(values(30)), postrender)
    run(world, step)
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": f"data-{STS}-0", "labels": {"app": STS}}}  # fmt: skip
    for ordinal in (0, 1, 2):
        api.add({**claim, "metadata": {"name": f"data-{STS}-{ordinal}", "labels": {"app": STS}}})
    api.add({**claim, "metadata": {"name": "data-sciencebox-mariadb-0"}})  # not ours to touch
    Pipeline([step]).down(world.ctx)
    assert world.helm_state()["releases"] == {}
    assert [c["metadata"]["name"] for c in api.objects("PersistentVolumeClaim")] == [
        "data-sciencebox-mariadb-0"
    ]
    # idempotent: a re-run of down meets "release: not found" and a 404
    world.ctx.current_step = "sciencebox"
    step._uninstall(world.ctx, {"release": "sciencebox", "namespace": "default",
                                "context": "mboxed-default",
                                "kubeconfig": str(tmp_path / "kubeconfig")})  # fmt: skip


def test_down_leaves_the_claim_to_a_cluster_mboxed_deletes(
    api: KubeAPIServer, tmp_path: Path
) -> None:
    world = ldap_world(api, tmp_path)  # created_by_mboxed: True
    step = ScienceBoxStep(Values(values(30)), postrender)
    run(world, step)
    api.add({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": f"data-{STS}-0"}})  # fmt: skip
    mark = len(api.requests)
    Pipeline([step]).down(world.ctx)
    assert not [p for m, p in api.requests[mark:] if "persistentvolumeclaims" in p]
