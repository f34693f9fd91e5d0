from __future__ import annotations

import shutil

import click

from mboxed.app import App
from mboxed.cli.options import deployment_options


@click.command()
@deployment_options(profile=False, run=True)
@click.option(
    "--purge", is_flag=True, help="Also delete the state (secrets, users) and the download cache."
)
def down(app: App, purge: bool) -> None:
    """Uninstall ScienceBox, delete the cluster mboxed created and revert every
    host change mboxed journaled, newest first."""
    if not app.state.exists and not purge:
        click.echo(f"deployment {app.deployment!r} has no state: nothing to take down")
        return
    with app.locked("down") as state:
        if not state.exists:
            click.echo(f"deployment {app.deployment!r} has no state: nothing to take down")
        else:
            app.start_log("down")
            app.pipeline().down(app.context())
        if purge:
            shutil.rmtree(app.paths.deployment_dir(app.deployment), ignore_errors=True)
    if purge:
        shutil.rmtree(app.paths.cache_root, ignore_errors=True)
        click.echo("purged state and download cache")
