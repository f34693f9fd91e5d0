from __future__ import annotations

import click

from mboxed.app import App
from mboxed.cli.options import deployment_options
from mboxed.paths import check_regular


@click.command()
@deployment_options(profile=False)
@click.option(
    "--lines",
    "-l",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="How many of the last lines (0: the whole log).",
)
@click.option("--path", "path_only", is_flag=True, help="Print only the log file's path.")
def logs(app: App, lines: int, path_only: bool) -> None:
    """Show the deployment's log: every command mboxed ran and its output."""
    path = app.paths.log_file(app.deployment)
    if path_only:
        click.echo(str(path))
        return
    check_regular(path, "log file")
    if not path.exists():
        click.echo(f"no log yet for deployment {app.deployment!r} ({path})")
        return
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    tail = text[-lines:] if lines else text
    click.echo("\n".join(tail))
