"""Step `sciencebox`: `helm upgrade --install` of the cached chart with one
generated values file.

Facts come from helm itself (`helm status -o json`, `helm get values -o json`,
`helm list -o json`): a release deleted by hand is noticed, and a re-run with
unchanged values does nothing. The values file is written 0600 into the
deployment directory (it holds secrets) as JSON, which is YAML to helm.
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
    keys = changed_keys(facts.deployed, facts.desired)
    if keys:
        shown = ", ".join(keys[:6]) + (f" and {len(keys) - 6} more" if len(keys) > 6 else "")
        reasons.append(f"values changed: {shown}")
    if not reasons:
        return Plan.nothing(f"{where} is at revision {facts.revision}, deployed with these values")
    return Plan([Action(f"upgrade {where}: {'; '.join(reasons)}", kind="upgrade", detail=detail)])


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
        from mboxed.sciencebox.postrender import leftover_defaults

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
            leftover_defaults=tuple(leftover_defaults(str(status.get("manifest") or ""))),
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
            return
        cluster = ctx.outputs("cluster")
        if UNREACHABLE.search(result.stderr) and cluster.get("created_by_mboxed"):
            # The cluster goes next, and the release with it.
            ctx.progress("cluster unreachable; the release goes with the cluster")
            return
        raise CommandError(result.argv, result.returncode, result.stdout, result.stderr)


def make() -> ScienceBoxStep:
    return ScienceBoxStep()
