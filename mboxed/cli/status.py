"""`mboxed status`: steps, drift, the cluster's live state and the URLs."""

from __future__ import annotations

import json
from typing import Any

import click

from mboxed.app import App
from mboxed.cli.options import deployment_options
from mboxed.steps import PIPELINE


def urls(cluster: dict[str, Any], profile: Any) -> dict[str, str]:
    """Where ScienceBox answers (SCIENCEBOX.md, "Healthy, seen from outside")."""
    host = cluster.get("hostname")
    if not host:
        return {}
    port = int(cluster.get("https_port") or 443)
    base = f"https://{host}" + ("" if port == 443 else f":{port}")
    found = {"landing": f"{base}/sciencebox", "cernbox": f"{base}/"}
    components = getattr(getattr(profile, "sciencebox", None), "components", None)
    if components is None or components.swan:
        found["swan"] = f"{base}/swan"
    found["idp"] = f"{base}/.well-known/openid-configuration"
    return found


def cluster_report(app: App, cluster: dict[str, Any]) -> dict[str, Any]:
    """The cluster as its provider sees it now (a few quick, read-only calls)."""
    from mboxed.errors import MboxedError
    from mboxed.providers.service import make_provider

    report: dict[str, Any] = {
        "provider": cluster.get("provider"),
        "name": cluster.get("cluster_name"),
        "context": cluster.get("context"),
        "created_by_mboxed": cluster.get("created_by_mboxed"),
        "ingress_address": cluster.get("ingress_address"),
    }
    try:
        provider = make_provider(app.context())
        missing = provider.tool_missing()
        if missing:
            report.update(state="unknown", detail=f"{missing} is not installed")
            return report
        status = provider.status()
        report.update(state=status.state, running=status.running, detail=status.detail)
    except MboxedError as exc:
        report.update(state="unknown", detail=exc.message.splitlines()[0])
    return report


def drift(app: App) -> list[dict[str, str]]:
    """Steps done with inputs that differ from what the profile asks now."""
    from mboxed.errors import MboxedError
    from mboxed.state import stable_hash

    ctx = app.context()
    out = []
    for step in app.pipeline().steps:
        if not app.state.has_step(step.name):
            continue
        record = app.state.step(step.name)
        if record.status != "done" or record.inputs_hash is None:
            continue
        try:
            current = stable_hash(step.inputs(ctx))
        except MboxedError:
            continue
        if current != record.inputs_hash:
            out.append({"step": step.name, "why": "inputs changed since the last run"})
    return out


def background_tasks(data: dict[str, Any]) -> dict[str, Any]:
    """Each background task the last runs recorded: its status and items
    (an item `running` in a run that is over was cut short: `up` resumes it)."""
    found = {}
    for name, task in (data.get("tasks") or {}).items():
        items = task.get("items") or {}
        by_status: dict[str, int] = {}
        for item in items.values():
            by_status[item.get("status", "?")] = by_status.get(item.get("status", "?"), 0) + 1
        counts = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
        found[name] = {
            "status": task.get("status"),
            "items": items,
            "summary": f"{task.get('status')} ({counts or 'no items'})",
        }
    return found


@click.command()
@deployment_options(profile=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(app: App, as_json: bool) -> None:
    """Show each step's last outcome, drift, the cluster's state and the URLs."""
    state = app.state
    steps = []
    for name, _ in PIPELINE:
        record = state.data["steps"].get(name, {}) if state.exists else {}
        steps.append(
            {
                "step": name,
                "status": record.get("status", "not run"),
                "ended": record.get("ended"),
                "duration": record.get("duration"),
                "error": record.get("error"),
            }
        )
    cluster_out = state.outputs("cluster") if state.exists else {}
    report: dict[str, Any] = {
        "deployment": app.deployment,
        "state_file": str(state.path),
        "exists": state.exists,
        "profile": (state.data.get("profile") or {}) if state.exists else None,
        "last_run": state.data.get("last_run") if state.exists else None,
        "steps": steps,
        "drift": [],
        "tasks": background_tasks(state.data) if state.exists else {},
        "cluster": None,
        "urls": {},
    }
    if state.exists:
        profile = app.loaded_profile.profile
        report["drift"] = drift(app)
        if cluster_out.get("provider"):
            report["cluster"] = cluster_report(app, cluster_out)
            report["urls"] = urls(cluster_out, profile)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    if not state.exists:
        click.echo(f"deployment {app.deployment!r}: nothing yet (run `mboxed up`)")
        return
    last = report["last_run"] or {}
    click.echo(f"deployment {app.deployment!r}: last {last.get('command')} {last.get('result')}")
    drifted = {d["step"] for d in report["drift"]}
    for entry in steps:
        extra = f"  {entry['error'].splitlines()[0]}" if entry["error"] else ""
        if entry["step"] in drifted:
            extra += "  (drift: profile changed; `mboxed up` applies it)"
        click.echo(f"  {entry['step']:<11} {entry['status']}{extra}")
    for name, task in report["tasks"].items():
        click.echo(f"  {name:<11} background: {task['summary']}")
    cluster = report["cluster"]
    if cluster:
        owner = "created by mboxed" if cluster.get("created_by_mboxed") else "not created by mboxed"
        click.echo(
            f"cluster: {cluster['provider']} {cluster.get('name') or ''} "
            f"(context {cluster.get('context')}, {owner}): {cluster.get('state')}"
            + (f" — {cluster['detail']}" if cluster.get("detail") else "")
        )
    for name, url in report["urls"].items():
        click.echo(f"  {name:<8} {url}")
