"""Users reach LDAP and EOS: the chart's two Jobs, run again when they change.

Users reach LDAP through a plain Job of the chart (ldap-instance-config
0.0.1, templates/job.yaml: `<release>-ldap-instance-config`, no Helm hook
annotation), which runs once: Helm does not run a Job again when only the
LDIF ConfigMap it mounts changes. So when the users' LDIF changed on an
installed release, the finished Job is deleted through the Kubernetes API
right before `helm upgrade`, and the upgrade creates it again (helm
pkg/kube/client.go `Update`: a resource of the new manifest that the cluster
lacks is created); the post-renderer makes its `ldapadd` continue past the
entries that exist. When the LDAP server's storage (`ldap.persistence`)
changes, its StatefulSet goes too: volumeClaimTemplates cannot be updated in
place (the API server refuses it, and with it the whole upgrade).

EOS learns the users the same way: eos-instance-config 0.0.6's plain Job
`<release>-eos-instance-config` (templates/job.yaml) makes their homes and
access entries, and is deleted before the upgrade when the EOS user list
(`eos-instance-config.config.demoUsers.userList`) changed; the post-renderer
makes its script configure every user on every run (job_scripts.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mboxed import kube
from mboxed.errors import TransientError

# What the chart 0.0.8 renders for the LDAP server and its seeding Job
# (`# Source:` paths of `helm template`; names by the subcharts' fullname
# helpers: `<release>-<chart name or alias>` unless the release name contains it).
SEED_JOB_SOURCE = "/charts/ldap-instance-config/templates/job.yaml"
LDAP_STATEFULSET_SOURCE = "/charts/ldap/templates/statefullset.yaml"
LDIF_PATH = ("ldap-instance-config", "ldifFiles")
EOS_JOB_SOURCE = "/charts/eos-instance-config/templates/job.yaml"
EOS_USERS_PATH = ("eos-instance-config", "config", "demoUsers", "userList")
# openldap 2.0.4 values.yaml `persistence` with the umbrella's `enabled: false`
LDAP_STORAGE_DEFAULTS: dict[str, Any] = {
    "enabled": False,
    "accessModes": ["ReadWriteOnce"],
    "size": "8Gi",
}
WHY_ACCESS = (
    "mboxed re-creates the LDAP seeding job (and the LDAP server when its "
    "storage changes) to load changed users: it needs to read and delete them"
)


def _lookup(values: Any, path: Sequence[str]) -> Any:
    node = values
    for part in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def ldap_storage(values: Any) -> dict[str, Any]:
    """What the LDAP StatefulSet's volumeClaimTemplates follow, defaults filled in."""
    given = _lookup(values, ("ldap", "persistence"))
    merged = {**LDAP_STORAGE_DEFAULTS, **(given if isinstance(given, Mapping) else {})}
    return merged if merged.get("enabled") else {"enabled": False}


def fullname(release: str, chart: str) -> str:
    """The `<chart>.fullname` helper of ldap-instance-config and openldap."""
    name = release if chart in release else f"{release}-{chart}"
    return name[:63].rstrip("-")


def rendered_name(manifest: str, source_suffix: str, kind: str) -> str:
    """metadata.name of the `kind` document rendered from a template whose
    `# Source:` ends with `source_suffix` ("" when the manifest has none)."""
    import yaml

    from mboxed.sciencebox.postrender import source_of, split_documents

    for doc in split_documents(manifest):
        if not source_of(doc).endswith(source_suffix):
            continue
        try:
            obj = yaml.safe_load(doc)
        except yaml.YAMLError:
            continue
        if isinstance(obj, dict) and obj.get("kind") == kind:
            return str((obj.get("metadata") or {}).get("name") or "")
    return ""


def job_failed(job: Mapping[str, Any]) -> bool:
    """batch/v1 JobStatus: condition Failed=True once the controller gave up."""
    conditions = (job.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Failed" and c.get("status") == "True" for c in conditions)


@dataclass(frozen=True)
class SeedFacts:
    users_changed: bool = False  # the deployed LDIF differs from the wanted one
    storage_changed: bool = False  # ldap.persistence differs
    seed_job: str = ""  # the seeding Job's name
    seed_job_state: str = ""  # "" (not read), present, missing, failed
    ldap_statefulset: str = ""  # the LDAP server's StatefulSet's name
    eos_job: str = ""  # the EOS configuration Job, when the EOS user list changed


def seed_facts(
    release: str,
    namespace: str,
    manifest: str,
    deployed: Any,
    desired: Any,
    client: Callable[[], Any],
) -> SeedFacts:
    """What the release's LDAP seeding needs, from its deployed manifest and
    values; `client` makes a Kubernetes client, asked only when the release
    has a seeding Job (to read its state)."""
    users_changed = _lookup(deployed, LDIF_PATH) != _lookup(desired, LDIF_PATH)
    storage_changed = ldap_storage(deployed) != ldap_storage(desired)
    seed_job = rendered_name(manifest, SEED_JOB_SOURCE, "Job")
    state = ldap_sts = ""
    if seed_job:
        # the release has a seeding Job: one that failed (or vanished) is run
        # again, as `mboxed up` after a failed `ready` expects
        job = kube.read_object(client(), "Job", namespace, seed_job, hint=WHY_ACCESS)
        state = "missing" if job is None else "failed" if job_failed(job) else "present"
    if users_changed or storage_changed:
        seed_job = seed_job or fullname(release, "ldap-instance-config")
        ldap_sts = rendered_name(manifest, LDAP_STATEFULSET_SOURCE, "StatefulSet") or (
            fullname(release, "ldap")
        )
    eos_job = ""
    if _lookup(deployed, EOS_USERS_PATH) != _lookup(desired, EOS_USERS_PATH):
        eos_job = rendered_name(manifest, EOS_JOB_SOURCE, "Job") or (
            fullname(release, "eos-instance-config")
        )
    return SeedFacts(users_changed, storage_changed, seed_job, state, ldap_sts, eos_job)


def delete_and_wait(
    client: Any, kind: str, namespace: str, name: str, timeout: float = 120.0
) -> None:
    """Delete one object with propagationPolicy=Background (the API's default
    for a batch/v1 Job orphans its pods; Background has the garbage collector
    remove them, and the object itself goes at once), then wait until a GET
    says 404, so that Helm does not find it and patch it instead of creating it."""
    gone = kube.delete_object(
        client, kind, namespace, name, propagation_policy="Background", hint=WHY_ACCESS
    )
    if gone is None:
        return
    deadline = time.monotonic() + timeout
    while kube.read_object(client, kind, namespace, name, hint=WHY_ACCESS) is not None:
        if time.monotonic() >= deadline:
            raise TransientError(
                f"{kind.lower()}/{name} is still there {timeout:g}s after its deletion"
            )
        time.sleep(1.0)


def delete_before_upgrade(
    client: Any,
    namespace: str,
    *,
    job: str,
    statefulset: str = "",
    progress: Callable[[str], None],
) -> None:
    """Delete what the coming upgrade must create afresh: the LDAP StatefulSet
    first (when its storage changes), then the seeding Job. Gone already is
    fine; Helm recreates both."""
    doomed = [("StatefulSet", statefulset), ("Job", job)]
    for kind, name in doomed:
        if name:
            progress(f"deleting {kind.lower()}/{name} (the upgrade creates it again)")
            delete_and_wait(client, kind, namespace, name)


def ldap_claims(release: str, claims: Sequence[Mapping[str, Any]]) -> list[str]:
    """The claims of LDAP's data among `claims` (API JSON): template `data`,
    StatefulSet `<release>-ldap`, one per ordinal that ever ran (kubernetes
    pkg/controller/statefulset/stateful_set_utils.go
    getPersistentVolumeClaimName: <template>-<statefulset>-<ordinal>). Matched
    by name, not by the StatefulSet's selector: after `helm uninstall` the
    StatefulSet is gone, and the chart once ran three replicas."""
    pattern = re.compile(rf"data-{re.escape(fullname(release, 'ldap'))}-[0-9]+")
    names = [str((c.get("metadata") or {}).get("name") or "") for c in claims]
    return sorted(
        (n for n in names if pattern.fullmatch(n)), key=lambda n: int(n.rsplit("-", 1)[1])
    )


def delete_ldap_claims(client: Any, namespace: str, release: str) -> list[str]:
    """Delete every claim of LDAP's data, which `helm uninstall` leaves (a
    StatefulSet's volumeClaimTemplates outlive it): they hold the users and
    the old admin password, which a later install with new secrets could not
    bind with. The names of those that were there."""
    found = kube.list_objects(client, "PersistentVolumeClaim", namespace)
    deleted = []
    for claim in ldap_claims(release, found):
        gone = kube.delete_object(
            client, "PersistentVolumeClaim", namespace, claim, hint=WHY_ACCESS
        )
        if gone is not None:
            deleted.append(claim)
    return deleted
