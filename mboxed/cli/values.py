"""`mboxed values`: print the Helm values `up` installs the chart with.

Secrets are masked unless --show-secrets. Before `up` has stored secrets,
users or a certificate, they are generated in memory for the printout only
(the header says so) and nothing is written: the values `up` installs will
carry other, stored secrets. `mboxed render` (cli/render.py) previews the
same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mboxed.app import App
from mboxed.cli.options import deployment_options
from mboxed.errors import Deferred, MboxedError

if TYPE_CHECKING:
    from mboxed.contract import Context
    from mboxed.sciencebox.values import Preview


def preview(app: App, command: str) -> tuple[Context, Preview]:
    """The values as `up` would build them from the stored state, what is
    missing made in memory only (nothing is written)."""
    from mboxed.hostname import resolve_hostname
    from mboxed.sciencebox.values import preview_values

    ctx = app.context()
    try:
        hostname = resolve_hostname(ctx.profile.hostname, ctx.outputs("cluster").get("hostname"))
    except Deferred:
        raise MboxedError(
            f"hostname is 'auto': it resolves after the cluster step, so `mboxed {command}` "
            "cannot run yet",
            hint="run `mboxed up --only cluster` first, or give one: "
            f"mboxed {command} --set hostname=box.example.org",
        ) from None
    return ctx, preview_values(
        ctx.profile,
        hostname,
        ctx.outputs("secrets"),
        ctx.outputs("users"),
        ctx.outputs("tls"),
        ctx.outputs("web-assets"),
    )


def header(first: str, notes: list[str], show_secrets: bool, mask: str = "********") -> list[str]:
    """Comment lines: what this is, what was made up for it, how secrets show."""
    lines = [first]
    if notes:
        lines += [f"# NOTE: {note}" for note in notes]
        lines.append("# NOTE: nothing was written; `mboxed up` generates and stores its own")
    if show_secrets:
        lines.append("# WARNING: secrets shown in clear")
    else:
        lines.append(f"# secrets masked as {mask}; --show-secrets shows them")
    return lines


@click.command()
@deployment_options()
@click.option("--show-secrets", is_flag=True, help="Print secrets instead of ********.")
def values(app: App, show_secrets: bool) -> None:
    """Print the generated Helm values of the ScienceBox chart."""
    from mboxed.sciencebox import secrets as sb_secrets
    from mboxed.sciencebox.values_text import dump_values, mask_secrets

    ctx, shown = preview(app, "values")
    result = shown.values
    first = (
        f"# Helm values for the ScienceBox chart {ctx.profile.sciencebox.version} "
        f"(deployment {app.deployment!r}, profile {app.loaded_profile.name!r})"
    )
    if not show_secrets:
        stored = sb_secrets.secret_values(ctx.outputs("secrets"))
        result = mask_secrets(result, extra=stored)
    click.echo("\n".join(header(first, shown.notes, show_secrets)))
    click.echo(dump_values(result), nl=False)
