"""How a person reaches the deployment from outside: its base URL, a demo
user to log in as, and the smoke test's target (shared by the `verify` and
`summary` steps and `mboxed verify`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mboxed.errors import Deferred
from mboxed.sciencebox.smoke import Target


def base_url(hostname: str, https_port: int | None) -> str:
    """https://HOST, with the port only when it is not 443."""
    port = "" if not https_port or int(https_port) == 443 else f":{int(https_port)}"
    return f"https://{hostname}{port}"


SERVICE_USERS = {"reva"}  # eos-user-cache-refresher's identity, not a person


def pick_user(users: Sequence[Mapping[str, Any]]) -> tuple[str, str] | None:
    """A demo user to log in with: einstein if there, else the first person."""
    people = [u for u in users if u.get("name") not in SERVICE_USERS and u.get("password")]
    for user in people:
        if user.get("name") == "einstein":
            return str(user["name"]), str(user["password"])
    return (str(people[0]["name"]), str(people[0]["password"])) if people else None


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
    return Target(
        hostname=str(cluster["hostname"]),
        address=str(cluster.get("ingress_address") or cluster["hostname"]),
        port=int(cluster.get("https_port") or 443),
        ca_cert=str(ca_cert) if ca_cert else None,
        verify=profile.tls == "local-ca",
        swan=components.swan,
        cernbox=components.cernbox,
        user=pick_user(list(outputs("users").get("users") or [])),
        timeout=timeout,
    )
