"""The smoke test: ScienceBox seen from outside, through the ingress
(mboxed.sciencebox.ingress: TLS with SNI and Host = the public hostname,
trusting only the deployment's local CA, as a browser on this machine would).

Checks (SCIENCEBOX.md "Healthy, seen from outside"):
- https://HOST/sciencebox: the landing page (nginx-welcome-page; its
  <title> reads "Science Box", sciencebox/files/sciencebox.html);
- https://HOST/.well-known/openid-configuration: the oCIS IdP's discovery
  document, whose `issuer` must be https://HOST (OpenID Connect Discovery 1.0
  §4.3: it must equal the issuer the clients were configured with);
- https://HOST/: CERNBox web (HTML);
- https://HOST/swan/hub/health: JupyterHub (base_url /swan) answers 200;
- a demo user authenticates at the IdP: oCIS's IdP is LibreGraph Connect
  (Kopano konnect), whose login form POSTs JSON {"params": [user, password,
  "1"]} to /signin/v1/identifier/_/logon with the `Kopano-Konnect-XSRF: 1`
  header and a same-host Origin/Referer; it answers 200 {"success": true}
  for good credentials and 204 otherwise (konnect identifier/handlers.go
  handleLogon, secureHandler; identifier/modes.go ModeLogonUsernamePassword).
  The IdP checks the password against LDAP, so this proves the generated
  LDIF, the LDAP bind and the IdP's wiring end to end; a wrong password must
  be refused too. What it does not do is drive a browser through CERNBox's
  OIDC redirect dance;
- more users log in (`Target.logins`: those whose password changed since the
  last verified run, and a few never tried): the password `mboxed users
  export` hands out must be the one LDAP holds, which it is only when the
  seeding Job applied the change.
"""

from __future__ import annotations

import http.client
import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mboxed.sciencebox.ingress import Client, Ingress, Response, failure, no_route

LOGON_PATH = "/signin/v1/identifier/_/logon"


@dataclass(frozen=True)
class Login:
    """A user to log in besides the demo user: one whose password changed
    since the last verified run, or one of a sample of the others."""

    name: str
    password: str
    changed: bool = False


@dataclass(frozen=True)
class Target(Ingress):
    swan: bool = True
    cernbox: bool = True
    user: tuple[str, str] | None = None  # a demo user's name and password
    logins: tuple[Login, ...] = ()


@dataclass(frozen=True)
class Check:
    name: str
    url: str
    ok: bool
    detail: str
    skipped: bool = False
    hint: str = ""
    unreachable: bool = False  # no connection at all: later checks are not tried

    def line(self) -> str:
        mark = "↷" if self.skipped else ("✓" if self.ok else "✗")
        return f"{mark} {self.name}: {self.detail} ({self.url})"


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok or c.skipped for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok and not c.skipped]

    def summary(self) -> str:
        ran = [c for c in self.checks if not c.skipped]
        return f"{sum(c.ok for c in ran)}/{len(ran)} checks passed"

    def as_json(self) -> list[dict[str, Any]]:
        return [
            {"check": c.name, "url": c.url, "ok": c.ok, "skipped": c.skipped, "detail": c.detail}
            for c in self.checks
        ]


CheckFn = Callable[[Client, Target], Check]


def _get(
    name: str, path: str, judge: Callable[[Response, Target], tuple[bool, str, str]]
) -> CheckFn:
    def check(client: Client, target: Target) -> Check:
        url = target.base + path
        try:
            response = client.request("GET", path)
        except (OSError, http.client.HTTPException) as exc:
            detail, hint = failure(exc, target)
            return Check(name, url, False, detail, hint=hint, unreachable=no_route(exc))
        ok, detail, hint = judge(response, target)
        return Check(name, url, ok, detail, hint=hint)

    return check


def _status_line(response: Response) -> str:
    return f"HTTP {response.status}"


def judge_landing(response: Response, target: Target) -> tuple[bool, str, str]:
    if response.status != 200:
        return False, _status_line(response), "the welcome page (nginx-welcome-page) is not served"
    text = response.text().lower()
    if "science box" in text or "sciencebox" in text:
        return True, "ScienceBox landing page", ""
    return False, "HTTP 200 but not the ScienceBox landing page", "another site answers this path"


def judge_discovery(response: Response, target: Target) -> tuple[bool, str, str]:
    hint = "the oCIS IdP (cernbox.ocis) is not reachable through the ingress"
    if response.status != 200:
        return False, _status_line(response), hint
    try:
        doc = json.loads(response.body)
    except ValueError:
        return False, "HTTP 200 but not JSON", hint
    if not isinstance(doc, dict):
        return False, "HTTP 200 but not a discovery document", hint
    want = f"https://{target.hostname}"
    issuer = str(doc.get("issuer", ""))
    if issuer.rstrip("/") != want:
        return (
            False,
            f"issuer is {issuer or '(none)'}, expected {want}",
            "cernbox.ocis.env.IDP_ISS must be the public URL: check `mboxed values`",
        )
    for key in ("authorization_endpoint", "token_endpoint"):
        if not str(doc.get(key, "")).startswith(want):
            return False, f"{key} is {doc.get(key)!r}, not under {want}", hint
    return True, f"issuer {issuer}", ""


def judge_web(response: Response, target: Target) -> tuple[bool, str, str]:
    if response.status != 200:
        return False, _status_line(response), "CERNBox web (cernbox-web / oCIS proxy) is not served"
    if "<html" not in response.text().lower():
        return False, "HTTP 200 but no HTML page", "CERNBox web did not answer at /"
    return True, "CERNBox web page", ""


def judge_hub(response: Response, target: Target) -> tuple[bool, str, str]:
    if response.status == 200:
        return True, "JupyterHub healthy", ""
    return False, _status_line(response), "JupyterHub (swan.jupyterhub) is not healthy yet"


def logon(client: Client, target: Target, user: str, password: str) -> Response:
    origin = target.base
    body = json.dumps({"state": secrets.token_hex(8), "params": [user, password, "1"]}).encode()
    return client.request(
        "POST",
        LOGON_PATH,
        body=body,
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Kopano-Konnect-XSRF": "1",
            "Origin": origin,
            "Referer": f"{origin}/signin/v1/identifier",
        },
        follow=0,
    )


def _answer(response: Response) -> str:
    """ "accepted", "refused" (konnect answers 204) or what else the IdP said."""
    if response.status == 204:
        return "refused"
    if response.status != 200:
        return _status_line(response)
    try:
        answer = json.loads(response.body)
    except ValueError:
        answer = {}
    if isinstance(answer, dict) and answer.get("success") is True:
        return "accepted"
    return "the IdP did not confirm the logon"


def check_login(client: Client, target: Target) -> Check:
    url = target.base + LOGON_PATH
    if target.user is None:
        return Check("demo user login", url, True, "no demo user to try", skipped=True)
    user, password = target.user
    name = f"{user} logs in"
    try:
        answer = _answer(logon(client, target, user, password))
        if answer == "refused":
            return Check(
                name,
                url,
                False,
                f"the IdP refused {user}'s password",
                hint="LDAP does not know this user/password: check `mboxed users list` and "
                "the ldap pods",
            )
        if answer != "accepted":
            return Check(name, url, False, answer, hint="the IdP's logon failed")
        bad = logon(client, target, user, password + "-wrong")
        if bad.status != 204:
            return Check(
                name,
                url,
                False,
                f"a wrong password was not refused (HTTP {bad.status})",
                hint="the IdP accepts anything: check its LDAP configuration",
            )
    except (OSError, http.client.HTTPException) as exc:
        detail, hint = failure(exc, target)
        return Check(name, url, False, detail, hint=hint)
    return Check(name, url, True, "password accepted by the IdP, a wrong one refused")


LOGINS = "more users log in"
SEEDING_HINT = (
    "run `mboxed up` again: it re-runs the LDAP seeding job when the users changed; "
    "`kubectl logs job/<release>-ldap-instance-config` shows what the job did"
)


def check_logins(client: Client, target: Target) -> Check:
    """Each of `target.logins` logs in with the password the users step holds
    (what `mboxed users export` hands out)."""
    url = target.base + LOGON_PATH
    refused: list[Login] = []
    for login in target.logins:
        try:
            answer = _answer(logon(client, target, login.name, login.password))
        except (OSError, http.client.HTTPException) as exc:
            detail, hint = failure(exc, target)
            return Check(LOGINS, url, False, detail, hint=hint)
        if answer == "refused":
            refused.append(login)
        elif answer != "accepted":
            return Check(
                LOGINS, url, False, f"{login.name}: {answer}", hint="the IdP's logon failed"
            )
    if refused:
        names = _few([f"{r.name}{' (password changed)' if r.changed else ''}" for r in refused])
        detail = (
            f"the IdP refused the password of {names}: the LDAP seeding did not apply it, "
            "so `mboxed users export` hands out a password LDAP does not hold"
        )
        return Check(LOGINS, url, False, detail, hint=SEEDING_HINT)
    changed = sum(login.changed for login in target.logins)
    return Check(
        LOGINS,
        url,
        True,
        f"{len(target.logins)} user(s) accepted by the IdP ({changed} with a changed password): "
        + _few([login.name for login in target.logins]),
    )


def _few(names: Sequence[str], limit: int = 5) -> str:
    return ", ".join(names[:limit]) + (
        f" and {len(names) - limit} more" if len(names) > limit else ""
    )


def checks_for(target: Target) -> list[tuple[str, str, CheckFn | None]]:
    """(name, path, check) in order; check None = skipped, with why in name."""
    return [
        ("landing page", "/sciencebox", _get("landing page", "/sciencebox", judge_landing)),
        (
            "IdP discovery",
            "/.well-known/openid-configuration",
            _get("IdP discovery", "/.well-known/openid-configuration", judge_discovery),
        ),
        ("CERNBox web", "/", _get("CERNBox web", "/", judge_web) if target.cernbox else None),
        (
            "SWAN hub",
            "/swan/hub/health",
            _get("SWAN hub", "/swan/hub/health", judge_hub) if target.swan else None,
        ),
        ("demo user login", LOGON_PATH, check_login),
        *([(LOGINS, LOGON_PATH, check_logins)] if target.logins else []),
    ]


def run_smoke(target: Target) -> Report:
    client = Client(target)
    report = Report()
    for name, path, check in checks_for(target):
        url = target.base + path
        if check is None:
            report.checks.append(
                Check(name, url, True, "component off in the profile", skipped=True)
            )
            continue
        down = next((c for c in report.checks if c.unreachable), None)
        if down is not None:
            # Waiting out the same connect timeout once per check says nothing new.
            report.checks.append(Check(name, url, False, f"not tried: {down.detail}"))
            continue
        report.checks.append(check(client, target))
    return report


def run_until_healthy(
    target: Target,
    *,
    timeout: float,
    interval: float = 5.0,
    progress: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Report:
    """Run the smoke test until it passes or `timeout` runs out (routes and
    the IdP often need a few seconds after pods turn Ready)."""
    deadline = time.monotonic() + timeout
    shown = ""
    while True:
        report = run_smoke(target)
        line = report.summary()
        if progress is not None and line != shown:
            progress(line + ("" if report.ok else ": " + ", ".join(c.name for c in report.failed)))
            shown = line
        if report.ok or time.monotonic() >= deadline:
            return report
        sleep(interval)


def describe_failures(checks: Sequence[Check]) -> str:
    lines = []
    for check in checks:
        lines.append(f"  {check.line()}")
        if check.hint:
            lines.append(f"    hint: {check.hint}")
    return "\n".join(lines)
