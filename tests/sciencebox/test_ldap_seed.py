"""LDAP seeding: names from the rendered manifest or the charts' helpers,
the storage that forces a new StatefulSet, and what is read or deleted
through the Kubernetes API (stand-in: tests/fakes/kube_api.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mboxed import kube
from mboxed.sciencebox import ldap_seed
from mboxed.sciencebox.ldap_seed import fullname, ldap_storage, rendered_name
from tests.fakes.kube_api import KubeAPIServer

JOB = "sciencebox-ldap-instance-config"
STS = "sciencebox-ldap"
JOB_SOURCE = "sciencebox/charts/ldap-instance-config/templates/job.yaml"


def manifest_with_job(name: str) -> str:
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}}
    return (
        "---\n# Source: sciencebox/charts/ldap-instance-config/templates/configmap.yaml\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"
        f"---\n# Source: {JOB_SOURCE}\n{json.dumps(job)}\n"
    )


def test_names_come_from_the_rendered_manifest_else_the_chart_helpers() -> None:
    manifest = manifest_with_job("class-seed")
    assert rendered_name(manifest, ldap_seed.SEED_JOB_SOURCE, "Job") == "class-seed"
    assert rendered_name(manifest, ldap_seed.LDAP_STATEFULSET_SOURCE, "StatefulSet") == ""
    assert fullname("sciencebox", "ldap-instance-config") == JOB
    assert fullname("sciencebox", "ldap") == STS
    assert fullname("my-ldap", "ldap") == "my-ldap"  # the release name contains it


def test_ldap_claims_are_every_ordinals_of_the_ldap_statefulset() -> None:
    names = ["data-sciencebox-ldap-10", "data-sciencebox-ldap-2", "data-sciencebox-ldap-0",
             "data-sciencebox-ldap-x", "data-sciencebox-ldap-1-old", "data-sciencebox-mariadb-0",
             "cache-sciencebox-ldap-0", "data-other-ldap-0"]  # fmt: skip
    claims = [{"metadata": {"name": name}} for name in names]
    assert ldap_seed.ldap_claims("sciencebox", claims) == [
        f"data-{STS}-0",
        f"data-{STS}-2",
        f"data-{STS}-10",
    ]
    assert ldap_seed.ldap_claims("my-ldap", [{"metadata": {"name": "data-my-ldap-0"}}]) == [
        "data-my-ldap-0"
    ]


def test_ldap_storage_fills_in_the_chart_defaults() -> None:
    assert ldap_storage({}) == {"enabled": False}  # chart 0.0.8: no volume
    assert ldap_storage({"ldap": {"persistence": {"enabled": False, "size": "2Gi"}}}) == {
        "enabled": False
    }
    assert ldap_storage({"ldap": {"persistence": {"enabled": True}}}) == {
        "enabled": True,
        "accessModes": ["ReadWriteOnce"],
        "size": "8Gi",
    }


def test_a_release_without_a_seeding_job_needs_no_cluster() -> None:
    def no_client() -> Any:
        raise AssertionError("the API was asked")

    same = {"ldap-instance-config": {"ldifFiles": {"a.ldif": "dn: x"}}}
    assert ldap_seed.seed_facts("sciencebox", "default", "", same, same, no_client) == (
        ldap_seed.SeedFacts()
    )
    changed = ldap_seed.seed_facts("sciencebox", "default", "", {}, same, no_client)
    assert changed == ldap_seed.SeedFacts(True, False, JOB, "", STS)


def test_a_changed_eos_user_list_names_the_eos_configuration_job() -> None:
    def no_client() -> Any:
        raise AssertionError("the API was asked")

    def eos(users: dict[str, Any]) -> dict[str, Any]:
        return {"eos-instance-config": {"config": {"demoUsers": {"userList": users}}}}

    ann = {"ann": {"uid": 20005, "gid": 30000}}
    more = {**ann, "bob": {"uid": 20006, "gid": 30000}}
    same = ldap_seed.seed_facts("sciencebox", "default", "", eos(ann), eos(ann), no_client)
    assert same.eos_job == ""
    grown = ldap_seed.seed_facts("sciencebox", "default", "", eos(ann), eos(more), no_client)
    assert grown.eos_job == "sciencebox-eos-instance-config"  # the chart's helper
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "class-eos"}}
    manifest = f"---\n# Source: sciencebox{ldap_seed.EOS_JOB_SOURCE}\n{json.dumps(job)}\n"
    named = ldap_seed.seed_facts("sciencebox", "default", manifest, eos(more), eos(ann), no_client)
    assert named.eos_job == "class-eos"  # a user left: the Job runs again too


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (None, "missing"),
        ({"succeeded": 1}, "present"),
        ({"conditions": [{"type": "Failed", "status": "True"}]}, "failed"),
    ],
)
def test_the_seeding_jobs_state_is_read_from_the_api(
    tmp_path: Path, status: dict[str, Any] | None, state: str
) -> None:
    with KubeAPIServer() as api:
        if status is not None:
            api.add({"apiVersion": "batch/v1", "kind": "Job",
                     "metadata": {"name": "class-seed"}, "status": status})  # fmt: skip
        client = kube.api_client("fake", str(api.write_kubeconfig(tmp_path / "config")))
        facts = ldap_seed.seed_facts(
            "sciencebox", "default", manifest_with_job("class-seed"), {}, {}, lambda: client
        )
    assert (facts.seed_job, facts.seed_job_state) == ("class-seed", state)


def test_delete_before_upgrade_takes_the_statefulset_first_and_tolerates_absence(
    tmp_path: Path,
) -> None:
    with KubeAPIServer() as api:
        api.add({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": STS}})
        client = kube.api_client("fake", str(api.write_kubeconfig(tmp_path / "config")))
        notes: list[str] = []
        ldap_seed.delete_before_upgrade(
            client, "default", job=JOB, statefulset=STS, progress=notes.append
        )
        deletes = [p.split("?")[0] for m, p in api.requests if m == "DELETE"]
        assert api.get("StatefulSet", STS, "default") is None
    assert deletes == [
        f"/apis/apps/v1/namespaces/default/statefulsets/{STS}",
        f"/apis/batch/v1/namespaces/default/jobs/{JOB}",  # absent: a 404, fine
    ]
    assert notes[0] == f"deleting statefulset/{STS} (the upgrade creates it again)"
