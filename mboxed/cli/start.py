"""`mboxed start`: bring a stopped deployment back (also after a reboot)."""

from __future__ import annotations

import click

from mboxed.app import App
from mboxed.cli.options import deployment_options
from mboxed.cli.run import run_up
from mboxed.errors import MboxedError


@click.command()
@deployment_options(profile=False, run=True)
@click.option("--only", multiple=True, metavar="STEP", help="Run only this step (repeatable).")
def start(app: App, only: tuple[str, ...]) -> None:
    """Start a stopped cluster again, and wait until ScienceBox is back.

    It runs `up` with the profile the last `up` used: the cluster step starts
    the cluster (its address may have changed; the hostname follows), every
    other step finds its work already done.
    """
    if not app.state.exists or not app.state.outputs("cluster"):
        raise MboxedError(
            f"deployment {app.deployment!r} has no cluster yet: nothing to start",
            hint="run `mboxed up`",
        )
    run_up(app, dry_run=False, only=only, command="start")
