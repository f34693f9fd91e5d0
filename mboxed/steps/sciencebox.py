"""Step `sciencebox`: `helm upgrade --install` of the cached chart with one
generated values file.

The glue of mboxed.sciencebox.helm (the helm CLI), .release (facts and plan)
and .ldap_seed (the seeding Job, deleted before an upgrade that must re-run
it). The values file is written 0600 into the deployment directory (it holds
secrets) as JSON, which is YAML to helm.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from mboxed import kube
from mboxed.contract import BaseStep, Context, Plan
from mboxed.errors import Deferred, MboxedError
from mboxed.hostname import resolve_hostname
from mboxed.journal import JournalEntry
from mboxed.sciencebox import ldap_seed
from mboxed.sciencebox.helm import ClusterUnreachable, Helm, KubeContextMissing
from mboxed.sciencebox.release import (
    ReleaseFacts,
    check_namespace,
    normalise,
    plan_release,
    secret_strings,
)

ValuesFn = Callable[[Context], dict[str, Any]]
PostRenderFn = Callable[[Context], dict[str, Any]]


def desired_values(ctx: Context) -> dict[str, Any]:
    """The Helm values from the outputs of steps cluster, secrets, users, tls
    and web-assets."""
    from mboxed.sciencebox import secrets as sb_secrets
    from mboxed.sciencebox import values as sv

    sv.check_components(ctx.profile)
    hostname = resolve_hostname(ctx.profile.hostname, ctx.outputs("cluster").get("hostname"))
    secrets = ctx.outputs("secrets")
    if sb_secrets.missing(secrets):
        raise Deferred("secrets")
    users = ctx.outputs("users")
    if not users.get("users"):
        raise Deferred("users")
    tls = None
    if ctx.profile.tls == "local-ca":
        tls_out = ctx.outputs("tls")
        if not tls_out.get("cert"):
            raise Deferred("tls")
        tls = sv.read_tls(tls_out)
    web_assets = ctx.outputs("web-assets").get("assets") or []
    if ctx.profile.sciencebox.components.cernbox and not web_assets:
        raise Deferred("web-assets")
    return sv.values_from_state(ctx.profile, hostname, secrets, users, tls, web_assets)


def postrender_config(ctx: Context) -> dict[str, Any]:
    """The post-renderer's config, from the secrets step's outputs."""
    from mboxed.sciencebox import render
    from mboxed.sciencebox import secrets as sb_secrets

    secrets = ctx.outputs("secrets")
    if sb_secrets.missing(secrets):
        raise Deferred("secrets")
    return render.postrender_config(ctx.profile, secrets)


def helm_for(
    ctx: Context, cluster: Mapping[str, Any], namespace: str, timeout: float | None = None
) -> Helm:
    binary = str(ctx.outputs("helm").get("path") or "helm")
    context, kubeconfig = cluster.get("context"), cluster.get("kubeconfig")
    helm = Helm(ctx.shell, namespace, binary, context or None, kubeconfig or None)
    return helm if timeout is None else replace(helm, timeout=timeout)


def values_file(ctx: Context) -> Path:
    return Path(ctx.paths.deployment_dir(ctx.deployment)) / "sciencebox-values.json"


def postrender_dir(ctx: Context) -> Path:
    return Path(ctx.paths.deployment_dir(ctx.deployment)) / "postrender"


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class ScienceBoxStep(BaseStep):
    name = "sciencebox"
    description = "helm upgrade --install of the ScienceBox chart with a generated values file"

    def __init__(
        self,
        values: ValuesFn = desired_values,
        postrender: PostRenderFn = postrender_config,
        helm_timeout: float | None = None,  # seconds per helm run; None: Helm's default
    ) -> None:
        self._values = values
        self._postrender = postrender
        self._helm_timeout = helm_timeout

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
        if not Path(chart["path"]).exists():
            local = bool(chart.get("local"))
            raise MboxedError(
                f"the {'local' if local else 'cached'} chart {chart['path']} is gone",
                hint="point sciencebox.chart at a chart that exists"
                if local
                else "run `mboxed up --only chart` to pull it again",
            )
        return chart

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
        check_namespace(str(chart.get("name") or ""), sb.namespace)
        self._guard_secrets(ctx)
        desired = normalise(self._values(ctx))
        postrender = normalise(self._postrender(ctx))
        on_disk = read_json(postrender_dir(ctx) / "postrender.json")
        helm = helm_for(ctx, cluster, sb.namespace, self._helm_timeout)
        status = helm.status(sb.release)
        base = ReleaseFacts(
            sb.release,
            sb.namespace,
            str(chart["path"]),
            str(chart.get("version", "")),
            desired,
            chart_digest=str(chart.get("digest") or ""),
            deployed_chart_digest=str(ctx.outputs(self.name).get("chart_digest") or ""),
        )
        if status is None:
            return base
        state = str((status.get("info") or {}).get("status", ""))
        # Only a release in trouble needs its history: which revision to go back to.
        history = tuple(helm.history(sb.release)) if state != "deployed" else ()
        from mboxed.sciencebox.postrender import leftover_defaults

        deployed = helm.get_values(sb.release)
        deployed_chart = helm.chart(sb.release)
        manifest = str(status.get("manifest") or "")
        seed = ldap_seed.seed_facts(
            sb.release,
            sb.namespace,
            manifest,
            deployed,
            desired,
            lambda: kube.api_client(cluster.get("context"), cluster.get("kubeconfig")),
        )
        return replace(
            base,
            status=status,
            deployed=deployed,
            deployed_chart=deployed_chart,
            postrender_current=on_disk == postrender,
            leftover_defaults=tuple(leftover_defaults(manifest)),
            history=history,
            **asdict(seed),
        )

    def plan(self, ctx: Context, facts: ReleaseFacts) -> Plan:
        return plan_release(facts, str(ctx.outputs("chart").get("name") or "sciencebox"))

    def apply(self, ctx: Context, plan: Plan) -> Mapping[str, Any] | None:
        sb = ctx.profile.sciencebox
        chart = self._chart(ctx)
        cluster = self._cluster(ctx)
        self._guard_secrets(ctx)
        from mboxed.sciencebox.render import write_values_file

        path = values_file(ctx)
        if write_values_file(path, self._values(ctx)):
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
        helm = helm_for(ctx, cluster, sb.namespace, self._helm_timeout)
        for action in plan.actions:
            if action.kind == "rollback":
                revision = int(action.detail["revision"])
                ctx.progress(f"helm rollback {sb.release} {revision}")
                helm.rollback(sb.release, revision)
            elif action.kind == "uninstall":
                ctx.progress(f"helm uninstall {sb.release} (it never deployed)")
                helm.uninstall(sb.release)
            elif action.kind in ("reseed", "recreate-ldap", "reconfigure-eos"):
                ldap_seed.delete_before_upgrade(
                    kube.api_client(cluster.get("context"), cluster.get("kubeconfig")),
                    sb.namespace,
                    job=str(action.detail.get("job") or ""),
                    statefulset=str(action.detail.get("statefulset") or ""),
                    progress=ctx.progress,
                )
        ctx.progress(f"helm upgrade --install {sb.release}")
        helm.upgrade_install(sb.release, str(chart["path"]), [str(path)], str(renderer))
        # the release now runs this chart: the plan after the apply compares it
        return {"values_file": str(path), "chart_digest": str(chart.get("digest") or "")}

    def outputs(self, ctx: Context, facts: ReleaseFacts) -> Mapping[str, Any]:
        return {
            "release": facts.release,
            "namespace": facts.namespace,
            "revision": facts.revision,
            "status": facts.state,
            "values_file": str(values_file(ctx)),
            # what the release runs: set by apply, else (nothing to do) the
            # chart it was found deployed with, or this one when none was recorded
            "chart_digest": facts.deployed_chart_digest or facts.chart_digest,
        }

    def undo(self, ctx: Context, journal: Sequence[JournalEntry]) -> None:
        from mboxed.journal import revert

        for entry in reversed(journal):
            if entry.kind == "helm_release":
                self._uninstall(ctx, dict(entry.data))
            else:
                revert(ctx, entry)

    def _uninstall(self, ctx: Context, data: dict[str, Any]) -> None:
        release, namespace = str(data["release"]), str(data["namespace"])
        created = ctx.outputs("cluster").get("created_by_mboxed")
        try:
            helm_for(ctx, data, namespace).uninstall(release)
        except (ClusterUnreachable, KubeContextMissing):
            if not created:
                raise
            # The cluster goes next, and the release with it.
            ctx.progress("cluster unreachable; the release goes with the cluster")
            return
        if created:
            return  # a cluster mboxed created goes next, and LDAP's claim with it
        client = kube.api_client(data.get("context"), data.get("kubeconfig"))
        for claim in ldap_seed.delete_ldap_claims(client, namespace, release):
            ctx.progress(f"deleted persistentvolumeclaim/{claim} (LDAP's data)")


def make() -> ScienceBoxStep:
    return ScienceBoxStep()
