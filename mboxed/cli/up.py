from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import click

from mboxed.app import App
from mboxed.cli.options import deployment_options
from mboxed.cli.run import run_up
from mboxed.paths import check_regular


@click.command()
@deployment_options(run=True)
@click.option("--dry-run", is_flag=True, help="Only show the plan (same as `mboxed plan`).")
@click.option("--only", multiple=True, metavar="STEP", help="Run only this step (repeatable).")
@click.option("--from", "from_", metavar="STEP", help="Start at this step.")
@click.option("--trust", is_flag=True, help="Also add the local CA to this host's trust store.")
@click.option(
    "--bundle",
    "bundle_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    metavar="FILE",
    help="Install from this offline bundle (`mboxed bundle`), with no network.",
)
def up(
    app: App, dry_run: bool, only: tuple[str, ...], from_: str | None, bundle_file: Path | None
) -> None:
    """Bring ScienceBox up: every step, skipping what is already so.

    A failed or interrupted run resumes where it stopped: run it again.
    """
    # --trust reaches app.options.trust through deployment_options.
    with contextlib.ExitStack() as stack:
        if bundle_file is not None:
            stack.enter_context(_bundle_as_mirror(app, bundle_file))
        _results = run_up(app, dry_run=dry_run, only=only, from_=from_)
    if not dry_run and any(
        r.name == "summary" and r.outcome in ("done", "skipped") for r in _results
    ):
        from mboxed.sciencebox.summary import render

        click.echo(render(app.state.outputs("summary")))


@contextlib.contextmanager
def _bundle_as_mirror(app: App, path: Path) -> Iterator[None]:
    """Serve the bundle's room (verified, straight from the tar) for this
    run and make it the run's mirror: tools, chart and images come from it.
    It listens on the host's Docker bridge address, which the node
    containers reach too (loopback when there is no bridge)."""
    from mboxed.bundle import serve_bundle
    from mboxed.docker_engine import bridge_gateway

    if app.options.mirror:
        raise click.UsageError("give --bundle or --mirror, not both")
    # served by byte ranges straight from the tar: a pipe cannot be
    check_regular(path, "bundle", hint="give the bundle file `mboxed bundle` wrote")
    address = bridge_gateway(app.shell.env) or "127.0.0.1"
    marker_dir = Path(app.paths.cache_root) / "bundles"
    room = serve_bundle(path.resolve(), marker_dir, address, lambda line: click.echo(line))
    app.options.mirror = room.url(address)
    app.options.bundle = str(path.resolve())
    click.echo(f"bundle {path}: serving its room at {app.options.mirror} for this run")
    try:
        yield
    finally:
        room.stop()
