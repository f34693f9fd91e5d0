"""How a person reaches the deployment from outside: a demo user to log in
as, the users whose passwords the smoke test proves, and its target (shared by
the `verify` and `summary` steps and `mboxed verify`)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mboxed.errors import Deferred
from mboxed.sciencebox.smoke import Login, Target

SERVICE_USERS = {"reva"}  # eos-user-cache-refresher's identity, not a person


def pick_user(users: Sequence[Mapping[str, Any]]) -> tuple[str, str] | None:
    """A demo user to log in with: einstein if there, else the first person."""
    people = [u for u in users if u.get("name") not in SERVICE_USERS and u.get("password")]
    for user in people:
        if user.get("name") == "einstein":
            return str(user["name"]), str(user["password"])
    return (str(people[0]["name"]), str(people[0]["password"])) if people else None


# Users never tried before are sampled, this many per run: a class of 1,500
# is not logged in one by one; every changed password is.
SAMPLE = 3


def fingerprints(users: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """name -> a digest of the user's password, for the `verify` step's record
    of what it proved (the state holds the passwords themselves already)."""
    return {
        str(u["name"]): hashlib.sha256(f"{u['name']}\0{u['password']}".encode()).hexdigest()[:16]
        for u in users
        if u.get("name") and u.get("password")
    }


def logins_to_try(
    users: Sequence[Mapping[str, Any]], verified: Mapping[str, str], demo: str | None
) -> tuple[Login, ...]:
    """Besides the demo user: every person whose password changed since the
    last verified run (`verified`: its fingerprints), and a spread sample of
    SAMPLE people it never tried."""
    now = fingerprints(users)
    people = [n for n in now if n not in SERVICE_USERS and n != demo]
    passwords = {str(u["name"]): str(u["password"]) for u in users if str(u.get("name")) in now}
    changed = [n for n in people if n in verified and verified[n] != now[n]]
    unseen = [n for n in people if n not in verified]
    sample = unseen[:: max(1, len(unseen) // SAMPLE)][:SAMPLE]
    return tuple(Login(n, passwords[n], changed=n in changed) for n in [*changed, *sample])


def smoke_target(
    outputs: Callable[[str], Mapping[str, Any]], profile: Any, timeout: float = 15.0
) -> Target:
    """Where the smoke test goes, from the outputs the steps recorded
    (`outputs(step)`, e.g. Context.outputs); Deferred until they are there."""
    cluster = outputs("cluster")
    if not cluster.get("hostname"):
        raise Deferred("cluster")
    ca_cert = None
    if profile.tls == "local-ca":
        ca_cert = outputs("tls").get("ca_cert")
        if not ca_cert:
            raise Deferred("tls")
    components = profile.sciencebox.components
    users = list(outputs("users").get("users") or [])
    user = pick_user(users)
    verified = outputs("verify").get("verified_passwords") or {}
    return Target(
        hostname=str(cluster["hostname"]),
        address=str(cluster.get("ingress_address") or cluster["hostname"]),
        port=int(cluster.get("https_port") or 443),
        ca_cert=str(ca_cert) if ca_cert else None,
        verify=profile.tls == "local-ca",
        swan=components.swan,
        cernbox=components.cernbox,
        user=user,
        logins=logins_to_try(users, verified, user[0] if user else None),
        timeout=timeout,
    )
