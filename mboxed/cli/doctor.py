"""`mboxed doctor`: check this host against a profile's needs (the preflight checks).

Exit 0 when nothing failed (warnings allowed), 1 when a check failed.
`--json` prints the list of checks for a machine (an instructor collecting
the state of 30 laptops before a workshop).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from mboxed.app import App
from mboxed.cli.options import deployment_options

MARK = {"ok": "✓", "warn": "!", "fail": "✗"}


@click.command()
@deployment_options(profile=True)
@click.option("--json", "as_json", is_flag=True, help="Print the checks as a JSON list.")
@click.option(
    "--mirror",
    metavar="URL",
    help="Check this mirror instead of the upstream download hosts. Also MBOXED_MIRROR.",
)
def doctor(app: App, as_json: bool) -> None:
    """Check this host against a profile's needs; change nothing."""
    from mboxed.downloads import check_mirror
    from mboxed.host import gather
    from mboxed.host_checks import evaluate

    mirror = app.mirror  # --mirror, MBOXED_MIRROR, else the one the last `up` used
    if mirror:
        mirror = check_mirror(mirror)
    profile = app.loaded_profile
    snap = gather(app.shell, mirror)
    checks = evaluate(snap, profile.profile, mirror) + runtime_network_checks(profile.profile)
    failed = any(c.status == "fail" for c in checks)
    if as_json:
        click.echo(json.dumps([c.to_dict() for c in checks], indent=2))
    else:
        click.echo(f"mboxed doctor: profile {profile.name}, {snap.host.platform}")
        width = max(len(c.id) for c in checks)
        for check in checks:
            need = (
                check.need
                if check.need.startswith(("not needed", "none"))
                else (f"need {check.need}")
            )
            click.echo(f"  {MARK[check.status]} {check.id:<{width}}  {check.value}  ({need})")
            if check.status != "ok" and check.fix:
                click.echo(f"    {'':<{width}}  fix: {check.fix}")
        counts = {s: sum(c.status == s for c in checks) for s in MARK}
        click.echo(f"{counts['ok']} ok, {counts['warn']} warning(s), {counts['fail']} failed")
    if failed:
        sys.exit(1)


def runtime_network_checks(profile: object) -> list[Any]:
    """What the running deployment still fetches from the internet, which no
    image solves (mboxed.images.network_needs): a warning naming each."""
    from mboxed.host_checks import Check
    from mboxed.images.network_needs import runtime_needs

    needs = runtime_needs(profile)
    if not needs:
        return []
    hosts = sorted({h for need in needs for h in need.hosts})
    value = "; ".join(f"{need.what} ({need.when})" for need in needs)
    fix = " | ".join(f"{need.without}: {need.remedy}" for need in needs)
    return [Check("runtime-network", "internet at run time", "warn", value, ", ".join(hosts), fix)]
