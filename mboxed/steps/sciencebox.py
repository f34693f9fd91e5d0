"""Step `sciencebox`: `helm upgrade --install` of the cached chart with one
generated values file.

Facts come from helm itself (`helm status -o json`, `helm get values -o json`,
`helm list -o json`): a release deleted by hand is noticed, and a re-run with
unchanged values does nothing. The values file is written 0600 into the
deployment directory (it holds secrets) as JSON, which is YAML to helm.

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
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mboxed.engine import Action, BaseStep, Context, JournalEntry, Plan
from mboxed.errors import Deferred, MboxedError, TransientError
from mboxed.shell import CommandError

ValuesFn = Callable[[Context], dict[str, Any]]
PostRenderFn = Callable[[Context], dict[str, Any]]

# Error texts of helm v3 (helm/helm pkg/storage/driver/driver.go ErrReleaseNotFound,
# pkg/action/uninstall.go "uninstall: Release not loaded").
NOT_FOUND = "release: not found"
UNREACHABLE = re.compile(r"Kubernetes cluster unreachable|connection refused|no such host", re.I)


def _real_values_for(ctx: Context) -> dict[str, Any]:
    from mboxed.sciencebox.values import values_for

    return values_for(ctx)


def _real_postrender_config(ctx: Context) -> dict[str, Any]:
    from mboxed.sciencebox.postrender import config_for

    return config_for(ctx)


def helm_binary(ctx: Context) -> str:
    return str(ctx.outputs("helm").get("path") or "helm")


def kube_args(cluster: Mapping[str, Any]) -> list[str]:
    args = []
    if cluster.get("context"):
        args += ["--kube-context", str(cluster["context"])]
    if cluster.get("kubeconfig"):
        args += ["--kubeconfig", str(cluster["kubeconfig"])]
    return args


def values_file(ctx: Context) -> Path:
    return Path(ctx.paths.deployment_dir(ctx.deployment)) / "sciencebox-values.json"


def postrender_dir(ctx: Context) -> Path:
    return Path(ctx.paths.deployment_dir(ctx.deployment)) / "postrender"


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def normalise(values: Any) -> Any:
    """What helm hands back from a values file: the same data after a JSON round trip."""
    return json.loads(json.dumps(values, default=str))


def changed_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted key paths whose values differ (never the values: they hold secrets)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            out += changed_keys(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    return [] if old == new else [prefix.rstrip(".") or "(all)"]


def secret_strings(secrets: Mapping[str, Any], users: Iterable[Mapping[str, Any]]) -> list[str]:
    """The generated secrets and generated users' passwords: registered with
    the shell so that helm's output of our values never reaches the log. The
    classic demo passwords are public (and words like "admin" are everywhere),
    as the users step also decides."""
    found = [str(v) for v in secrets.values() if isinstance(v, str)]
    found += [
        str(u["password"]) for u in users if u.get("password") and u.get("source") != "classic"
    ]
    return found


# What the chart 0.0.8 renders for the LDAP server and its seeding Job
# (`# Source:` paths of `helm template`; names by the subcharts' fullname
# helpers: `<release>-<chart name or alias>` unless the release name contains it).
SEED_JOB_SOURCE = "/charts/ldap-instance-config/templates/job.yaml"
LDAP_STATEFULSET_SOURCE = "/charts/ldap/templates/statefullset.yaml"
LDIF_PATH = ("ldap-instance-config", "ldifFiles")
# openldap 2.0.4 values.yaml `persistence` with the umbrella's `enabled: false`
LDAP_STORAGE_DEFAULTS: dict[str, Any] = {
    "enabled": False,
    "accessModes": ["ReadWriteOnce"],
    "size": "8Gi",
}


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


@dataclass(frozen=True)
class ReleaseFacts:
    release: str
    namespace: str
    chart_path: str
    chart_version: str
    desired: dict[str, Any]
    status: dict[str, Any] | None = None  # `helm status -o json`, None = no release
    deployed: dict[str, Any] = field(default_factory=dict)  # `helm get values -o json`
    deployed_chart: str = ""  # `helm list -o json` "chart": name-version
    postrender_current: bool = True  # the post-renderer on disk renders with today's secrets
    leftover_defaults: tuple[str, ...] = ()  # chart default secrets in the deployed manifest
    users_changed: bool = False  # the deployed LDIF differs from the wanted one
    storage_changed: bool = False  # ldap.persistence differs: LDAP StatefulSet recreated
    seed_job: str = ""  # the LDAP seeding Job's name
    seed_job_state: str = ""  # "" (not read), present, missing, failed
    ldap_statefulset: str = ""  # the LDAP server's StatefulSet's name

    @property
    def state(self) -> str:
        return str(((self.status or {}).get("info") or {}).get("status", ""))

    @property
    def revision(self) -> int:
        return int((self.status or {}).get("version") or 0)


def plan_release(facts: ReleaseFacts, chart_name: str = "sciencebox") -> Plan:
    where = f"release {facts.release} in namespace {facts.namespace}"
    wanted_chart = f"{chart_name}-{facts.chart_version}"
    detail = {"release": facts.release, "namespace": facts.namespace}
    if facts.status is None:
        return Plan(
            [
                Action(
                    f"install {where} from chart {wanted_chart} (helm upgrade --install)",
                    kind="install",
                    detail=detail,
                )
            ]
        )
    reasons = []
    if facts.state != "deployed":
        reasons.append(f"its status is {facts.state or 'unknown'}")
    if facts.deployed_chart and facts.deployed_chart != wanted_chart:
        reasons.append(f"chart {facts.deployed_chart} -> {wanted_chart}")
    if not facts.postrender_current:
        reasons.append("post-render config (template secrets, components) changed")
    if facts.leftover_defaults:
        reasons.append(f"{len(facts.leftover_defaults)} chart default secret(s) in the manifest")
    seed_trouble = {"missing": "is missing", "failed": "failed"}.get(facts.seed_job_state, "")
    if seed_trouble:
        reasons.append(f"the LDAP seeding job {facts.seed_job} {seed_trouble}")
    keys = changed_keys(facts.deployed, facts.desired)
    if keys:
        shown = ", ".join(keys[:6]) + (f" and {len(keys) - 6} more" if len(keys) > 6 else "")
        reasons.append(f"values changed: {shown}")
    if not reasons:
        return Plan.nothing(f"{where} is at revision {facts.revision}, deployed with these values")
    actions = []
    if facts.storage_changed:
        actions.append(
            Action(
                f"delete statefulset {facts.ldap_statefulset} and job {facts.seed_job}: the "
                "LDAP storage (ldap.persistence) changes, which a StatefulSet cannot take in "
                "place; the upgrade creates both again and the job loads the users",
                kind="recreate-ldap",
                detail={
                    **detail,
                    "statefulset": facts.ldap_statefulset,
                    "job": facts.seed_job,
                },
            )
        )
    elif facts.users_changed or seed_trouble:
        why = "users or groups changed" if facts.users_changed else f"it {seed_trouble}"
        actions.append(
            Action(
                f"re-run the LDAP seeding job {facts.seed_job} ({why}): "
                "delete the finished job, so that the upgrade creates it again",
                kind="reseed",
                detail={**detail, "job": facts.seed_job},
            )
        )
    actions.append(Action(f"upgrade {where}: {'; '.join(reasons)}", kind="upgrade", detail=detail))
    return Plan(actions)


class ScienceBoxStep(BaseStep):
    name = "sciencebox"
    description = "helm upgrade --install of the ScienceBox chart with a generated values file"

    def __init__(
        self, values: ValuesFn | None = None, postrender: PostRenderFn | None = None
    ) -> None:
        self._values = values or _real_values_for
        self._postrender = postrender or _real_postrender_config

    # -- helpers --------------------------------------------------------------
    def _cluster(self, ctx: Context) -> dict[str, Any]:
        cluster = ctx.outputs("cluster")
        if not cluster:
            raise Deferred("cluster")
        return cluster

    def _chart(self, ctx: Context) -> dict[str, Any]:
        chart = ctx.outputs("chart")
        if not chart.get("path"):
            raise Deferred("chart")
        if not Path(chart["path"]).is_file():
            raise MboxedError(
                f"the cached chart {chart['path']} is gone",
                hint="run `mboxed up --only chart` to pull it again",
            )
        return chart

    def _helm(
        self, ctx: Context, args: Sequence[str], cluster: Mapping[str, Any], *, check: bool = True
    ) -> Any:
        ns = ctx.profile.sciencebox.namespace
        argv = [helm_binary(ctx), *args, "--namespace", ns, *kube_args(cluster)]
        return ctx.shell.run(argv, check=check, timeout=900)

    def _guard_secrets(self, ctx: Context) -> None:
        ctx.shell.add_secret(
            *secret_strings(ctx.outputs("secrets"), ctx.outputs("users").get("users") or [])
        )

    # -- contract -------------------------------------------------------------
    def inputs(self, ctx: Context) -> Mapping[str, Any]:
        sb = ctx.profile.sciencebox
        return {
            "release": sb.release,
            "namespace": sb.namespace,
            "chart_digest": ctx.outputs("chart").get("digest"),
        }

    def facts(self, ctx: Context) -> ReleaseFacts:
        sb = ctx.profile.sciencebox
        chart = self._chart(ctx)
        cluster = self._cluster(ctx)
        if chart.get("name") == "sciencebox" and sb.namespace != "default":
            raise MboxedError(
                f"sciencebox.namespace is {sb.namespace!r}, but the ScienceBox chart only "
                "works in namespace 'default' (its cernbox templates hard-code "
                "<release>-mgm.default.svc.cluster.local)",
                hint="remove sciencebox.namespace from your profile (default: default)",
            )
        self._guard_secrets(ctx)
        desired = normalise(self._values(ctx))
        postrender = normalise(self._postrender(ctx))
        on_disk = read_json(postrender_dir(ctx) / "postrender.json")
        status_run = self._helm(ctx, ["status", sb.release, "-o", "json"], cluster, check=False)
        base = ReleaseFacts(
            sb.release, sb.namespace, str(chart["path"]), str(chart.get("version", "")), desired
        )
        if not status_run.ok:
            if NOT_FOUND in status_run.stderr:
                return base
            error = CommandError(
                status_run.argv, status_run.returncode, status_run.stdout, status_run.stderr
            )
            if UNREACHABLE.search(status_run.stderr):
                raise TransientError(error.message, hint="is the cluster running? `mboxed start`")
            raise error
        status = json.loads(status_run.stdout)
        got = self._helm(ctx, ["get", "values", sb.release, "-o", "json"], cluster)
        deployed = json.loads(got.stdout or "null") or {}
        listed = self._helm(
            ctx, ["list", "-o", "json", "--filter", f"^{re.escape(sb.release)}$"], cluster
        )
        chart_label = next(
            (
                str(row.get("chart", ""))
                for row in json.loads(listed.stdout or "[]")
                if row.get("name") == sb.release
            ),
            "",
        )
        from mboxed.kube import api_client
        from mboxed.sciencebox.postrender import leftover_defaults

        manifest = str(status.get("manifest") or "")
        users_changed = _lookup(deployed, LDIF_PATH) != _lookup(desired, LDIF_PATH)
        storage_changed = ldap_storage(deployed) != ldap_storage(desired)
        rendered_job = rendered_name(manifest, SEED_JOB_SOURCE, "Job")
        seed_job = ldap_sts = seed_job_state = ""
        if rendered_job:
            # the release has a seeding Job: one that failed (or vanished) is
            # run again, as `mboxed up` after a failed `ready` expects
            client = api_client(cluster.get("context"), cluster.get("kubeconfig"))
            job = api_call(client, "Job", "read", sb.namespace, rendered_job)
            seed_job_state = "missing" if job is None else "present"
            if job is not None and job_failed(job):
                seed_job_state = "failed"
            seed_job = rendered_job
        if users_changed or storage_changed:
            seed_job = seed_job or fullname(sb.release, "ldap-instance-config")
            ldap_sts = rendered_name(manifest, LDAP_STATEFULSET_SOURCE, "StatefulSet") or (
                fullname(sb.release, "ldap")
            )
        return ReleaseFacts(
            base.release,
            base.namespace,
            base.chart_path,
            base.chart_version,
            desired,
            status,
            deployed,
            chart_label,
            postrender_current=on_disk == postrender,
            leftover_defaults=tuple(leftover_defaults(manifest)),
            users_changed=users_changed,
            storage_changed=storage_changed,
            seed_job=seed_job,
            ldap_statefulset=ldap_sts,
            seed_job_state=seed_job_state,
        )

    def plan(self, ctx: Context, facts: ReleaseFacts) -> Plan:
        return plan_release(facts, str(ctx.outputs("chart").get("name") or "sciencebox"))

    def apply(self, ctx: Context, plan: Plan) -> Mapping[str, Any] | None:
        sb = ctx.profile.sciencebox
        chart = self._chart(ctx)
        cluster = self._cluster(ctx)
        self._guard_secrets(ctx)
        path = values_file(ctx)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fresh = not path.exists()
        text = json.dumps(normalise(self._values(ctx)), indent=2, sort_keys=True) + "\n"
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.chmod(path.with_suffix(".tmp"), 0o600)
        os.replace(path.with_suffix(".tmp"), path)
        if fresh:
            ctx.record("file_created", path=str(path))
        from mboxed.sciencebox.postrender import write_post_renderer

        renderer_dir = postrender_dir(ctx)
        if not renderer_dir.exists():
            renderer_dir.mkdir(parents=True, mode=0o700)
            ctx.record("dir_created", path=str(renderer_dir))
        renderer = write_post_renderer(renderer_dir, normalise(self._postrender(ctx)))
        if not any(e.kind == "helm_release" for e in ctx.journal()):
            ctx.record(
                "helm_release",
                release=sb.release,
                namespace=sb.namespace,
                context=cluster.get("context"),
                kubeconfig=cluster.get("kubeconfig"),
            )
        for action in plan.actions:
            if action.kind in ("reseed", "recreate-ldap"):
                self._delete_before_upgrade(ctx, cluster, action)
        ctx.progress(f"helm upgrade --install {sb.release}")
        self._helm(
            ctx,
            [
                "upgrade",
                "--install",
                sb.release,
                str(chart["path"]),
                "--create-namespace",
                "--values",
                str(path),
                "--post-renderer",
                str(renderer),
            ],
            cluster,
        )
        return {"values_file": str(path)}

    def _delete_before_upgrade(
        self, ctx: Context, cluster: Mapping[str, Any], action: Action
    ) -> None:
        """Delete what the coming upgrade must create afresh (see the module
        docstring): the seeding Job, and for `recreate-ldap` the LDAP
        StatefulSet first. Gone already is fine; Helm recreates both."""
        from mboxed.kube import api_client

        client = api_client(cluster.get("context"), cluster.get("kubeconfig"))
        namespace = ctx.profile.sciencebox.namespace
        doomed = []
        if action.kind == "recreate-ldap" and action.detail.get("statefulset"):
            doomed.append(("StatefulSet", str(action.detail["statefulset"])))
        if action.detail.get("job"):
            doomed.append(("Job", str(action.detail["job"])))
        for kind, name in doomed:
            ctx.progress(f"deleting {kind.lower()}/{name} (the upgrade creates it again)")
            delete_and_wait(client, kind, namespace, name)

    def outputs(self, ctx: Context, facts: ReleaseFacts) -> Mapping[str, Any]:
        return {
            "release": facts.release,
            "namespace": facts.namespace,
            "revision": facts.revision,
            "status": facts.state,
            "values_file": str(values_file(ctx)),
        }

    def undo(self, ctx: Context, journal: Sequence[JournalEntry]) -> None:
        from mboxed.journal import revert

        for entry in reversed(journal):
            if entry.kind == "helm_release":
                self._uninstall(ctx, dict(entry.data))
            else:
                revert(ctx, entry)

    def _uninstall(self, ctx: Context, data: dict[str, Any]) -> None:
        argv = [
            helm_binary(ctx),
            "uninstall",
            str(data["release"]),
            "--namespace",
            str(data["namespace"]),
            *kube_args(data),
        ]
        result = ctx.shell.run(argv, check=False, timeout=900)
        if result.ok or NOT_FOUND in result.stderr:
            self._delete_ldap_claim(ctx, data)
            return
        cluster = ctx.outputs("cluster")
        if UNREACHABLE.search(result.stderr) and cluster.get("created_by_mboxed"):
            # The cluster goes next, and the release with it.
            ctx.progress("cluster unreachable; the release goes with the cluster")
            return
        raise CommandError(result.argv, result.returncode, result.stdout, result.stderr)

    def _delete_ldap_claim(self, ctx: Context, data: dict[str, Any]) -> None:
        """`helm uninstall` leaves the claims of a StatefulSet's
        volumeClaimTemplates; LDAP's (`data-<release>-ldap-0`: template
        `data`, StatefulSet `<release>-ldap`, one replica; kubernetes
        pkg/controller/statefulset/stateful_set_utils.go
        getPersistentVolumeClaimName: <template>-<statefulset>-<ordinal>)
        holds the users and the old admin password, which a later install
        with new secrets could not bind with. A cluster mboxed created goes
        next, and the claim with it."""
        if ctx.outputs("cluster").get("created_by_mboxed"):
            return
        from mboxed.kube import api_client

        release, namespace = str(data["release"]), str(data["namespace"])
        claim = f"data-{fullname(release, 'ldap')}-0"
        client = api_client(data.get("context"), data.get("kubeconfig"))
        if api_call(client, "PersistentVolumeClaim", "delete", namespace, claim) is not None:
            ctx.progress(f"deleted persistentvolumeclaim/{claim} (LDAP's data)")


_CALLS = {
    "Job": ("BatchV1Api", "namespaced_job"),
    "StatefulSet": ("AppsV1Api", "namespaced_stateful_set"),
    "PersistentVolumeClaim": ("CoreV1Api", "namespaced_persistent_volume_claim"),
}


def api_call(client: Any, kind: str, verb: str, namespace: str, name: str, **kwargs: Any) -> Any:
    """`read` or `delete` one Job/StatefulSet/claim through the kubernetes client:
    its JSON, or None on 404 (absent is an answer, not an error)."""
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    api_name, suffix = _CALLS[kind]
    api = getattr(k8s, api_name)(client)
    label = f"{kind.lower()}/{name} in namespace {namespace}"
    try:
        raw = getattr(api, f"{verb}_{suffix}")(
            name, namespace, _preload_content=False, _request_timeout=30, **kwargs
        )
    except ApiException as exc:
        if exc.status == 404:
            return None
        if exc.status and exc.status >= 500:
            raise TransientError(f"cannot {verb} {label}: HTTP {exc.status}") from None
        raise MboxedError(
            f"cannot {verb} {label}: HTTP {exc.status} {exc.reason}",
            hint="mboxed re-creates the LDAP seeding job (and the LDAP server when its "
            "storage changes) to load changed users: it needs to read and delete them",
        ) from None
    except (HTTPError, OSError) as exc:
        raise TransientError(f"the Kubernetes API does not answer: {exc}") from None
    return json.loads(raw.data or b"{}")


def job_failed(job: Mapping[str, Any]) -> bool:
    """batch/v1 JobStatus: condition Failed=True once the controller gave up."""
    conditions = (job.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Failed" and c.get("status") == "True" for c in conditions)


def delete_and_wait(
    client: Any, kind: str, namespace: str, name: str, timeout: float = 120.0
) -> None:
    """Delete one object with propagationPolicy=Background (the API's default
    for a batch/v1 Job orphans its pods; Background has the garbage collector
    remove them, and the object itself goes at once), then wait until a GET
    says 404, so that Helm does not find it and patch it instead of creating it."""
    import time

    if api_call(client, kind, "delete", namespace, name, propagation_policy="Background") is None:
        return
    deadline = time.monotonic() + timeout
    while api_call(client, kind, "read", namespace, name) is not None:
        if time.monotonic() >= deadline:
            raise TransientError(
                f"{kind.lower()}/{name} is still there {timeout:g}s after its deletion"
            )
        time.sleep(1.0)


def make() -> ScienceBoxStep:
    return ScienceBoxStep()
