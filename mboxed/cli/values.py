"""`mboxed values`: print the Helm values `up` installs the chart with.

Secrets are masked unless --show-secrets. Before `up` has stored secrets,
users or a certificate, they are generated in memory for the printout only
(the header says so) and nothing is written: the values `up` installs will
carry other, stored secrets.
"""

from __future__ import annotations

import click

from mboxed.app import App
from mboxed.cli.options import deployment_options
from mboxed.errors import Deferred, MboxedError


@click.command()
@deployment_options()
@click.option("--show-secrets", is_flag=True, help="Print secrets instead of ********.")
def values(app: App, show_secrets: bool) -> None:
    """Print the generated Helm values of the ScienceBox chart."""
    from mboxed.hostname import resolve_hostname
    from mboxed.sciencebox import secrets as sb_secrets
    from mboxed.sciencebox.values import preview_values
    from mboxed.sciencebox.values_text import dump_values, mask_secrets

    ctx = app.context()
    try:
        hostname = resolve_hostname(ctx.profile.hostname, ctx.outputs("cluster").get("hostname"))
    except Deferred:
        raise MboxedError(
            "hostname is 'auto': it resolves after the cluster step, so the values "
            "cannot be printed yet",
            hint="run `mboxed up --only cluster` first, or give one: "
            "mboxed values --set hostname=box.example.org",
        ) from None
    result, notes = preview_values(
        ctx.profile, hostname, ctx.outputs("secrets"), ctx.outputs("users"), ctx.outputs("tls")
    )
    header = [
        f"# Helm values for the ScienceBox chart {ctx.profile.sciencebox.version} "
        f"(deployment {app.deployment!r}, profile {app.loaded_profile.name!r})",
    ]
    if notes:
        header += [f"# NOTE: {note}" for note in notes]
        header.append("# NOTE: nothing was written; `mboxed up` generates and stores its own")
    if show_secrets:
        header.append("# WARNING: secrets shown in clear")
    else:
        header.append("# secrets masked as ********; --show-secrets shows them")
        stored = sb_secrets.secret_values(ctx.outputs("secrets"))
        result = mask_secrets(result, extra=stored)
    click.echo("\n".join(header))
    click.echo(dump_values(result), nl=False)
