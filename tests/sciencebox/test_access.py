"""Reaching the deployment: the base URL, the demo user, and the smoke test's
target built from recorded step outputs (Deferred until they are there)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from mboxed.errors import Deferred
from mboxed.profile import load_profile
from mboxed.sciencebox.access import base_url, pick_user, smoke_target

USERS = [
    {"name": "reva", "password": "reva", "source": "classic"},
    {"name": "admin", "password": "admin", "source": "classic"},
    {"name": "einstein", "password": "relativity", "source": "classic"},
]
CLUSTER = {"hostname": "box.example.org", "ingress_address": "127.0.0.1", "https_port": 8443}


def test_base_url_names_the_port_only_when_not_443() -> None:
    assert base_url("box.example.org", 443) == "https://box.example.org"
    assert base_url("box.example.org", None) == "https://box.example.org"
    assert base_url("box.example.org", 8443) == "https://box.example.org:8443"


@pytest.mark.parametrize(
    ("users", "expected"),
    [
        (USERS, ("einstein", "relativity")),
        ([{"name": "reva", "password": "reva"}, {"name": "student01", "password": "pw"}],
         ("student01", "pw")),
        ([{"name": "reva", "password": "reva"}], None),
        ([], None),
    ],
)  # fmt: skip
def test_pick_user_table(users: list[dict[str, str]], expected: tuple[str, str] | None) -> None:
    assert pick_user(users) == expected


def recorded(**outputs: Mapping[str, Any]) -> Any:
    return lambda step: outputs.get(step, {})


def test_smoke_target_from_recorded_outputs() -> None:
    profile = load_profile("demo").profile
    outputs = recorded(cluster=CLUSTER, tls={"ca_cert": "/state/ca.pem"}, users={"users": USERS})
    target = smoke_target(outputs, profile, timeout=3)
    assert (target.hostname, target.address, target.port) == ("box.example.org", "127.0.0.1", 8443)
    assert target.base == "https://box.example.org:8443"
    assert (target.ca_cert, target.verify, target.timeout) == ("/state/ca.pem", True, 3)
    assert target.user == ("einstein", "relativity")
    assert target.swan and target.cernbox


def test_smoke_target_waits_for_the_cluster_and_the_local_ca() -> None:
    profile = load_profile("demo").profile
    with pytest.raises(Deferred, match="after cluster"):
        smoke_target(recorded(), profile)
    with pytest.raises(Deferred, match="after tls"):
        smoke_target(recorded(cluster=CLUSTER), profile)
    plain = load_profile("demo", overrides=["tls=none"]).profile
    target = smoke_target(recorded(cluster=CLUSTER), plain)
    assert target.ca_cert is None and not target.verify and target.user is None
