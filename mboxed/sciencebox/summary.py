"""The summary of a deployment: where ScienceBox is, where the credentials
are, what to run next (built by the `summary` step, printed by `mboxed up`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mboxed.sciencebox.ingress import base_url


def build_summary(
    *,
    hostname: str,
    https_port: int | None,
    swan: bool,
    cernbox: bool,
    deployment: str,
    demo_user: str | None,
    tls: str,
    ca_cert: str | None,
    trusted: bool,
) -> dict[str, Any]:
    base = base_url(hostname, https_port)
    urls = {"landing": f"{base}/sciencebox"}
    if cernbox:
        urls["cernbox"] = f"{base}/"
    if swan:
        urls["swan"] = f"{base}/swan"
    urls["idp"] = f"{base}/.well-known/openid-configuration"
    name = "" if deployment == "default" else f" --name {deployment}"
    commands = {
        "users": f"mboxed users list{name}",
        "users_sheet": f"mboxed users export --format html{name} > users.html",
        "verify": f"mboxed verify{name}",
        "status": f"mboxed status{name}",
        "stop": f"mboxed stop{name}",
        "start": f"mboxed start{name}",
        "down": f"mboxed down{name}",
        "purge": f"mboxed down --purge{name}",
    }
    summary: dict[str, Any] = {
        "url": urls["landing"],
        "urls": urls,
        "demo_user": demo_user,
        "commands": commands,
    }
    if tls == "local-ca" and ca_cert:
        summary["ca_cert"] = ca_cert
        summary["ca_trusted"] = trusted
        if not trusted:
            commands["trust"] = f"mboxed trust{name}"
    return summary


def render(summary: Mapping[str, Any]) -> str:
    """What `mboxed up` prints last."""
    urls = summary.get("urls") or {}
    commands = summary.get("commands") or {}
    labels = {"cernbox": "CERNBox", "swan": "SWAN", "idp": "IdP"}
    lines = ["", f"ScienceBox is up: {summary.get('url', '?')}"]
    lines += [f"  {labels[k]:<8} {urls[k]}" for k in ("cernbox", "swan", "idp") if k in urls]
    lines.append("")
    user = summary.get("demo_user")
    lines.append(
        f"Users and passwords: {commands.get('users')}"
        + (f"  (log in as {user}, for example)" if user else "")
    )
    lines.append(f"  a printable sheet for a class: {commands.get('users_sheet')}")
    if summary.get("ca_cert") and not summary.get("ca_trusted"):
        lines.append("")
        lines.append(
            f"Browsers will warn about the certificate until this machine trusts mboxed's CA: "
            f"{commands.get('trust')}  (CA: {summary['ca_cert']})"
        )
    lines += [
        "",
        "Next:",
        f"  {commands.get('verify', ''):<32} re-run the smoke test",
        f"  {commands.get('stop', ''):<32} free CPU and RAM, keep the data",
        f"  {commands.get('start', ''):<32} start it again (also after a reboot)",
        f"  {commands.get('down', ''):<32} remove it and undo every host change",
        f"  {commands.get('purge', ''):<32} ... and also drop state, passwords and cache",
    ]
    return "\n".join(lines)
