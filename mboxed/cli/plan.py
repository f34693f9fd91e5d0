from __future__ import annotations

import click

from mboxed.app import App
from mboxed.cli.options import deployment_options
from mboxed.cli.run import run_up


@click.command()
@deployment_options(run=True)
@click.option("--only", multiple=True, metavar="STEP", help="Plan only this step (repeatable).")
@click.option("--from", "from_", metavar="STEP", help="Start at this step.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plan(app: App, only: tuple[str, ...], from_: str | None, as_json: bool) -> None:
    """Show every step's plan; change nothing (same as `up --dry-run`)."""
    run_up(app, dry_run=True, only=only, from_=from_, as_json=as_json, command="plan")
