"""`mboxed trust`: add the deployment's local CA to this host's trust store.

It runs the `tls` step with trust requested, so the change is journaled and
`mboxed down` removes it again.
"""

from __future__ import annotations

import click

from mboxed.app import App
from mboxed.cli.options import deployment_options
from mboxed.cli.run import run_up
from mboxed.errors import MboxedError


@click.command()
@deployment_options(run=True)
def trust(app: App) -> None:
    """Add the local CA to this host's trust store (undone by `mboxed down`)."""
    if not app.state.exists:
        # A failing `trust` leaves no trace: no state file, no log.
        raise MboxedError(
            f"deployment {app.deployment!r} has no local CA yet: nothing to trust",
            hint=f"run `{app.context().command_line('up')}` first",
        )
    app.options.trust = True
    run_up(app, dry_run=False, only=("tls",), command="trust")
    outputs = app.state.outputs("tls")
    if outputs.get("ca_cert"):
        click.echo(f"CA certificate: {outputs['ca_cert']}")
        click.echo(
            "Firefox keeps its own trust store: import that file under Settings → "
            "Privacy & Security → Certificates, or set security.enterprise_roots.enabled."
        )
