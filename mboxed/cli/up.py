from __future__ import annotations

import click

from mboxed.app import App
from mboxed.cli.options import deployment_options
from mboxed.cli.run import run_up


@click.command()
@deployment_options(run=True)
@click.option("--dry-run", is_flag=True, help="Only show the plan (same as `mboxed plan`).")
@click.option("--only", multiple=True, metavar="STEP", help="Run only this step (repeatable).")
@click.option("--from", "from_", metavar="STEP", help="Start at this step.")
@click.option("--trust", is_flag=True, help="Also add the local CA to this host's trust store.")
def up(app: App, dry_run: bool, only: tuple[str, ...], from_: str | None) -> None:
    """Bring ScienceBox up: every step, skipping what is already so.

    A failed or interrupted run resumes where it stopped: run it again.
    """
    # --trust reaches app.options.trust through deployment_options.
    _results = run_up(app, dry_run=dry_run, only=only, from_=from_)
    if not dry_run and any(
        r.name == "summary" and r.outcome in ("done", "skipped") for r in _results
    ):
        from mboxed.sciencebox.summary import render

        click.echo(render(app.state.outputs("summary")))
