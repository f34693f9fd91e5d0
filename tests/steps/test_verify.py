"""Step `verify` and `mboxed verify` against a real HTTPS site on 127.0.0.1
with a certificate from the local CA."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mboxed.cli import main
from mboxed.engine import Pipeline
from mboxed.errors import Deferred, MboxedError
from mboxed.steps.verify import VerifyStep
from tests.sciencebox.https_site import Site, https_site
from tests.steps.sciencebox_world import World, make_world, when_progress

HOST = "box.example.org"
USERS = [
    {"name": "reva", "password": "reva", "source": "classic"},
    {"name": "admin", "password": "admin", "source": "classic"},
    {"name": "einstein", "password": "relativity", "source": "classic"},
]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Site, Path]]:
    with https_site(tmp_path / "site", HOST) as served:
        yield served


def deployed(tmp_path: Path, served: Site, ca: Path, *overrides: str) -> World:
    served.users["admin"] = "admin"  # LDAP holds the users step's passwords
    world = make_world(tmp_path, overrides=overrides)
    world.record(
        "cluster",
        {"hostname": HOST, "ingress_address": "127.0.0.1", "https_port": served.port},
    )
    world.record("tls", {"ca_cert": str(ca)})
    world.record("users", {"users": USERS})
    world.record("ready", {"workloads": 27, "ready": 27})
    return world


def test_three_way_waits_for_the_site_then_has_nothing_to_do(
    site: tuple[Site, Path], tmp_path: Path
) -> None:
    served, ca = site
    served.pages["/swan/hub/health"] = (503, "text/plain", b"")
    world = deployed(tmp_path, served, ca)
    step = VerifyStep(timeout=30, interval=0.05)

    plan = step.plan(world.ctx, step.facts(world.ctx))
    assert plan.actions[0].summary == "wait for the smoke test to pass (failing: SWAN hub)"

    # never verified: admin (a user besides the demo user) logs in too
    when_progress(world, "5/6 checks passed: SWAN hub", served.healthy)
    assert Pipeline([step], retry_wait=0).up(world.ctx)[0].outcome == "done"
    assert "verify: 6/6 checks passed" in world.out.getvalue()
    assert world.ctx.outputs("verify")["summary"] == "6/6 checks passed"
    assert set(world.ctx.outputs("verify")["verified_passwords"]) == {"reva", "admin", "einstein"}

    # verified since, nothing changed: the demo user alone logs in
    assert Pipeline([step], retry_wait=0).up(world.ctx)[0].outcome == "skipped"
    assert world.ctx.outputs("verify")["summary"] == "5/5 checks passed"


def test_a_failing_smoke_test_fails_the_step_naming_the_check(
    site: tuple[Site, Path], tmp_path: Path
) -> None:
    served, ca = site
    served.issuer = "https://sciencebox.local"
    served.healthy()
    world = deployed(tmp_path, served, ca)
    step = VerifyStep(timeout=0.2, interval=0.05)
    with pytest.raises(MboxedError) as caught:
        Pipeline([step], retry_wait=0).up(world.ctx)
    assert "IdP discovery: issuer is https://sciencebox.local" in caught.value.message
    assert "hint: cernbox.ocis.env.IDP_ISS" in caught.value.message


def test_minimal_profile_skips_swan(site: tuple[Site, Path], tmp_path: Path) -> None:
    served, ca = site
    del served.pages["/swan/hub/health"]
    world = make_world(tmp_path, profile="minimal")
    world.record(
        "cluster", {"hostname": HOST, "ingress_address": "127.0.0.1", "https_port": served.port}
    )
    world.record("tls", {"ca_cert": str(ca)})
    world.record("users", {"users": USERS[2:]})
    world.record("ready", {"workloads": 20})
    facts = VerifyStep().facts(world.ctx)
    assert facts.ok and facts.summary() == "4/4 checks passed"


def test_deferred_until_ready(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    with pytest.raises(Deferred, match="after ready"):
        VerifyStep().facts(world.ctx)


def test_mboxed_verify_prints_each_check_and_exits_by_result(
    site: tuple[Site, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    served, ca = site
    deployed(tmp_path, served, ca)  # same MBOXED_HOME as the CLI sees (tests/conftest.py)

    main(["verify"])
    out = capsys.readouterr().out
    assert f"smoke test of https://{HOST}:{served.port} (via 127.0.0.1:{served.port})" in out
    assert "✓ einstein logs in: password accepted by the IdP" in out
    assert (
        "✓ more users log in: 1 user(s) accepted by the IdP (0 with a changed password): admin"
        in out
    )
    assert out.rstrip().endswith("6/6 checks passed")

    served.pages["/"] = (502, "text/html", b"<html>Bad Gateway</html>")
    with pytest.raises(SystemExit) as exited:
        main(["verify", "--json"])
    assert exited.value.code == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    assert [c["check"] for c in data["checks"] if not c["ok"]] == ["CERNBox web"]


def test_mboxed_verify_without_a_deployment_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["verify"])
    assert exited.value.code == 1
    assert "has no state: nothing to verify" in capsys.readouterr().err


def test_a_changed_password_ldap_does_not_hold_fails_naming_the_user(
    site: tuple[Site, Path], tmp_path: Path
) -> None:
    """After a verified run, the roster gives admin a new password (the users
    step's outputs: what `mboxed users export` hands out). While LDAP still
    holds the old one, verify fails naming admin and the seeding; once the
    seeding applied it, verify passes and records the new password."""
    served, ca = site
    world = deployed(tmp_path, served, ca)
    step = VerifyStep(timeout=0.2, interval=0.05)
    assert Pipeline([step], retry_wait=0).up(world.ctx)[0].outcome == "skipped"  # healthy
    before = world.ctx.outputs("verify")["verified_passwords"]

    changed = [{**u, "password": "admin-2"} if u["name"] == "admin" else u for u in USERS]
    world.record("users", {"users": changed})
    facts = step.facts(world.ctx)
    (failed,) = facts.failed
    assert failed.name == "more users log in"
    assert failed.detail.startswith(
        "the IdP refused the password of admin (password changed): "
        "the LDAP seeding did not apply it"
    )
    assert "mboxed up" in failed.hint
    with pytest.raises(MboxedError, match="refused the password of admin"):
        Pipeline([step], retry_wait=0).up(world.ctx)
    assert world.ctx.outputs("verify")["verified_passwords"] == before  # not proven: kept

    served.users["admin"] = "admin-2"  # the seeding Job ran again
    assert Pipeline([step], retry_wait=0).up(world.ctx)[0].outcome == "skipped"
    after = world.ctx.outputs("verify")["verified_passwords"]
    assert after["admin"] != before["admin"] and after["einstein"] == before["einstein"]
    logons = [entry["body"]["params"][:2] for entry in served.logons]
    assert logons[-2:] == [["einstein", "relativity-wrong"], ["admin", "admin-2"]]
