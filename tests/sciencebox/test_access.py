"""Reaching the deployment: the demo user, the users whose passwords the
smoke test proves, and its target built from recorded step outputs (Deferred
until they are there)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from mboxed.errors import Deferred
from mboxed.profile import load_profile
from mboxed.sciencebox.access import fingerprints, logins_to_try, pick_user, smoke_target
from mboxed.sciencebox.smoke import Login

USERS = [
    {"name": "reva", "password": "reva", "source": "classic"},
    {"name": "admin", "password": "admin", "source": "classic"},
    {"name": "einstein", "password": "relativity", "source": "classic"},
]
CLUSTER = {"hostname": "box.example.org", "ingress_address": "127.0.0.1", "https_port": 8443}


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
    assert target.logins == (Login("admin", "admin"),)  # never verified: sampled
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


def people(count: int, password: str = "pw") -> list[dict[str, str]]:
    return [{"name": f"student{n:02d}", "password": f"{password}{n}"} for n in range(count)]


def test_logins_are_every_changed_password_and_a_sample_of_users_never_tried() -> None:
    users = [{"name": "reva", "password": "reva"}, *people(30)]
    first = logins_to_try(users, {}, "student00")
    # nothing verified yet: a spread sample, never the demo user nor reva
    assert [login.name for login in first] == ["student01", "student10", "student19"]
    assert not any(login.changed for login in first)

    verified = fingerprints(users)
    assert logins_to_try(users, verified, "student00") == ()  # nothing changed, no one new
    regenerated = [*users[:5], {"name": "student05", "password": "new"}, *users[7:]]
    grown = [*regenerated, *people(40)[30:]]
    again = logins_to_try(grown, verified, "student00")
    assert [(x.name, x.password, x.changed) for x in again[:1]] == [("student05", "new", True)]
    assert [x.name for x in again[1:]] == ["student30", "student33", "student36"]  # new ones
    assert "student04" not in fingerprints(grown)  # removed: nothing to prove


def test_a_fingerprint_changes_with_the_password_and_does_not_show_it() -> None:
    one = fingerprints([{"name": "ann", "password": "secret-1"}])
    two = fingerprints([{"name": "ann", "password": "secret-2"}])
    assert one["ann"] != two["ann"] and "secret" not in one["ann"] and len(one["ann"]) == 16
