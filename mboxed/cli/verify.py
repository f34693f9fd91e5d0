from __future__ import annotations

import json
import sys

import click

from mboxed.app import App
from mboxed.cli.options import deployment_options
from mboxed.errors import Deferred, MboxedError


@click.command()
@deployment_options()
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0,
    metavar="SECONDS",
    help="Keep re-checking up to this long until every check passes.",
)
def verify(app: App, as_json: bool, wait: float) -> None:
    """Run the smoke test against the deployment, from outside through the
    ingress: landing page, IdP discovery, CERNBox web, SWAN hub health and a
    demo user logging in. Exits 1 when a check fails."""
    from mboxed.sciencebox.access import smoke_target
    from mboxed.sciencebox.smoke import run_until_healthy

    if not app.state.exists:
        raise MboxedError(
            f"deployment {app.deployment!r} has no state: nothing to verify",
            hint="run `mboxed up` first",
        )
    ctx = app.context()
    try:
        target = smoke_target(ctx.outputs, ctx.profile)
    except Deferred as exc:
        raise MboxedError(
            f"deployment {app.deployment!r} is not up yet: the smoke test runs {exc.message}",
            hint="run `mboxed up`",
        ) from None
    report = run_until_healthy(target, timeout=wait, interval=5.0)
    if as_json:
        click.echo(json.dumps({"ok": report.ok, "checks": report.as_json()}, indent=2))
    else:
        click.echo(f"smoke test of {target.base} (via {target.address}:{target.port}):")
        for check in report.checks:
            click.echo(f"  {check.line()}")
            if check.hint and not check.ok:
                click.echo(f"      hint: {check.hint}")
        click.echo(report.summary())
    if not report.ok:
        sys.exit(1)
