from __future__ import annotations

import json

import click

from mboxed.app import App
from mboxed.cli.options import deployment_options
from mboxed.steps import PIPELINE


@click.command()
@deployment_options(profile=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(app: App, as_json: bool) -> None:
    """Show each step's last outcome for this deployment."""
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
    report = {
        "deployment": app.deployment,
        "state_file": str(state.path),
        "exists": state.exists,
        "profile": (state.data.get("profile") or {}) if state.exists else None,
        "last_run": state.data.get("last_run") if state.exists else None,
        "steps": steps,
    }
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    if not state.exists:
        click.echo(f"deployment {app.deployment!r}: nothing yet (run `mboxed up`)")
        return
    last = report["last_run"] or {}
    click.echo(f"deployment {app.deployment!r}: last {last.get('command')} {last.get('result')}")
    for entry in steps:
        extra = f"  {entry['error'].splitlines()[0]}" if entry["error"] else ""
        click.echo(f"  {entry['step']:<11} {entry['status']}{extra}")
