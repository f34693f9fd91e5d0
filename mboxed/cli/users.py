"""`mboxed users list|export`: the deployment's users, from the state.

`export --format csv` writes one row per user (username, password, ...);
`export --format html` a printable sheet of credential cards for a class,
one card per user with the URL, the username and the password (the service
identity `reva` gets no card).
"""

from __future__ import annotations

import csv
import html
import io
import os
from pathlib import Path
from typing import Any

import click

from mboxed.app import App
from mboxed.cli.options import deployment_options
from mboxed.errors import MboxedError
from mboxed.sciencebox.accounts import SERVICE_USER

CSV_COLUMNS = ("username", "password", "display_name", "email", "uid", "gid", "groups", "url")


def _stored_users(app: App) -> list[dict[str, Any]]:
    state = app.state
    users = state.outputs("users").get("users") if state.exists else None
    if not users:
        raise MboxedError(
            f"deployment {app.deployment!r} has no users yet",
            hint="run `mboxed up` (or `mboxed up --only users`) first",
        )
    return list(users)


def _url(app: App) -> str:
    """https://HOST of the deployment, from what the steps recorded."""
    state = app.state
    for step in ("tls", "cluster"):
        host = state.outputs(step).get("hostname")
        if host:
            port = state.outputs("cluster").get("https_port") or 443
            return f"https://{host}" + (f":{port}" if int(port) != 443 else "")
    stored = (state.data.get("profile") or {}).get("set") or []
    for expr in stored:
        key, _, value = str(expr).partition("=")
        if key.strip() == "hostname" and value.strip() not in ("", "auto"):
            return f"https://{value.strip()}"
    try:
        host = app.loaded_profile.profile.hostname
    except MboxedError:
        host = "auto"
    return f"https://{host}" if host != "auto" else "(the URL `mboxed up` prints)"


def render_csv(users: list[dict[str, Any]], url: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for user in users:
        writer.writerow(
            [
                user["name"], user.get("password", ""), user.get("display_name", ""),
                user.get("email", ""), user.get("uid", ""), user.get("gid", ""),
                " ".join(user.get("groups") or []), url,
            ]
        )  # fmt: skip
    return buffer.getvalue()


_CARD_CSS = """
  body { font-family: system-ui, sans-serif; margin: 1cm; }
  h1 { font-size: 14pt; margin: 0 0 .5cm; }
  .cards { display: grid; grid-template-columns: repeat(2, 1fr); gap: .5cm; }
  .card { border: 1px dashed #666; border-radius: 6px; padding: .4cm .5cm;
          break-inside: avoid; page-break-inside: avoid; }
  .card h2 { font-size: 12pt; margin: 0 0 .2cm; }
  .card dl { display: grid; grid-template-columns: max-content 1fr; gap: .1cm .3cm; margin: 0; }
  .card dt { color: #555; }
  .card dd { margin: 0; font-family: ui-monospace, monospace; font-size: 12pt;
             overflow-wrap: anywhere; }
  @media print { body { margin: .5cm; } h1 { display: none; } }
"""


def render_html(users: list[dict[str, Any]], url: str, title: str) -> str:
    e = html.escape
    cards = []
    for user in users:
        if user["name"] == SERVICE_USER[0]:  # an identity, not a person: no card
            continue
        cards.append(
            '<section class="card">'
            f"<h2>{e(str(user.get('display_name') or user['name']))}</h2><dl>"
            f"<dt>URL</dt><dd>{e(url)}</dd>"
            f"<dt>Username</dt><dd>{e(str(user['name']))}</dd>"
            f"<dt>Password</dt><dd>{e(str(user.get('password', '')))}</dd>"
            "</dl></section>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{e(title)}</title>\n<style>{_CARD_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{e(title)} — {len(cards)} accounts</h1>\n"
        f'<div class="cards">\n' + "\n".join(cards) + "\n</div>\n</body>\n</html>\n"
    )


@click.group()
def users() -> None:
    """List and export the deployment's users (and their passwords)."""


@users.command("list")
@deployment_options(profile=False)
@click.option("--hide-passwords", is_flag=True, help="Leave the passwords out.")
def list_users(app: App, hide_passwords: bool) -> None:
    """List the users with their passwords, uids and groups."""
    stored = _stored_users(app)
    click.echo(f"URL: {_url(app)}")
    width = max(8, *(len(u["name"]) for u in stored))
    pw_width = max(8, *(len(str(u.get("password", ""))) for u in stored))
    head = f"{'USER':<{width}}  " + ("" if hide_passwords else f"{'PASSWORD':<{pw_width}}  ")
    click.echo(head + f"{'UID':>6}  {'GID':>6}  GROUPS")
    for user in stored:
        password = "" if hide_passwords else f"{user.get('password', '')!s:<{pw_width}}  "
        groups = ",".join(user.get("groups") or [])
        click.echo(
            f"{user['name']:<{width}}  {password}{user.get('uid', ''):>6}  "
            f"{user.get('gid', ''):>6}  {groups}"
        )
    click.echo(f"{len(stored)} users")


@users.command("export")
@deployment_options(profile=False)
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "html"]), default="csv", show_default=True
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (mode 0600) instead of standard output.",
)  # fmt: skip
def export_users(app: App, fmt: str, output: Path | None) -> None:
    """Export the users: csv, or html credential cards to print for a class."""
    stored = _stored_users(app)
    url = _url(app)
    if fmt == "csv":
        text = render_csv(stored, url)
    else:
        text = render_html(stored, url, f"ScienceBox accounts ({app.deployment})")
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(text)
    except OSError as exc:
        raise MboxedError(
            f"--output: cannot write {output}: {exc.strerror or exc}",
            hint="give a file in an existing directory you can write to",
        ) from None
    click.echo(f"wrote {output} ({len(stored)} users)", err=True)
