"""Step `users`: three-way test, growing a class keeps passwords, bad rosters
refused before anything changes; no cluster and no secrets needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from mboxed.errors import MboxedError
from mboxed.steps.users import make
from tests.sciencebox.context import make_ctx, run


def test_three_way_plan_apply_apply_again(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, profile="workshop")
    step = make()
    plan = step.plan(ctx, step.facts(ctx))
    assert [a.kind for a in plan.actions] == ["add"]
    assert plan.actions[0].summary.startswith("add 26 user(s): einstein, marie")
    assert not ctx.state.path.exists()
    assert run(ctx, step) == ["done"]
    users = ctx.outputs("users")["users"]
    assert len(users) == 26
    assert {"name", "uid", "gid", "password", "display_name", "email", "groups"} <= set(users[0])
    groups = ctx.outputs("users")["groups"]
    assert {"name", "gid", "members"} <= set(groups[0])
    assert run(ctx, step) == ["skipped"]
    assert ctx.outputs("users")["users"] == users


def test_growing_the_class_adds_users_and_keeps_the_others(tmp_path: Path) -> None:
    small = make_ctx(tmp_path, profile="workshop", overrides=["users.generate.count=3"])
    run(small, make())
    before = {u["name"]: u for u in small.outputs("users")["users"]}
    big = make_ctx(tmp_path, profile="workshop", overrides=["users.generate.count=5"])
    plan = make().plan(big, make().facts(big))
    assert [a.summary for a in plan.actions] == ["add 2 user(s): student04, student05"]
    run(big, make())
    after = {u["name"]: u for u in big.outputs("users")["users"]}
    for name, user in before.items():
        if name in after and name != "reva":
            assert after[name]["password"] == user["password"]
            assert after[name]["uid"] == user["uid"]


def test_shrinking_removes_users(tmp_path: Path) -> None:
    run(make_ctx(tmp_path, profile="workshop", overrides=["users.generate.count=3"]), make())
    ctx = make_ctx(tmp_path, profile="workshop", overrides=["users.generate.count=1"])
    plan = make().plan(ctx, make().facts(ctx))
    assert [a.summary for a in plan.actions] == ["remove 2 user(s): student02, student03"]
    # the removed users' records are kept: the LDIF deletes their LDAP entries
    run(ctx, make())
    gone = {u["name"]: u for u in ctx.outputs("users")["removed"]}
    assert sorted(gone) == ["student02", "student03"]
    assert run(ctx, make()) == ["skipped"]
    assert [u["name"] for u in ctx.outputs("users")["removed"]] == ["student02", "student03"]

    # a newcomer two runs later does not get a removed user's uid (EOS home)
    roster = tmp_path / "class.csv"
    roster.write_text("username\nzoe\n")
    newcomer = make_ctx(
        tmp_path, profile="workshop", overrides=["users.generate.count=1", f"users.roster={roster}"]
    )
    run(newcomer, make())
    zoe = next(u for u in newcomer.outputs("users")["users"] if u["name"] == "zoe")
    assert zoe["uid"] not in {u["uid"] for u in gone.values()}

    # one comes back with the same uid and password; the other stays removed
    back = make_ctx(
        tmp_path, profile="workshop", overrides=["users.generate.count=2", f"users.roster={roster}"]
    )
    run(back, make())
    student02 = next(u for u in back.outputs("users")["users"] if u["name"] == "student02")
    assert (student02["uid"], student02["password"]) == (
        gone["student02"]["uid"],
        gone["student02"]["password"],
    )
    assert [u["name"] for u in back.outputs("users")["removed"]] == ["student03"]
    assert run(back, make()) == ["skipped"]


def test_bad_roster_row_fails_before_anything_changes(tmp_path: Path) -> None:
    roster = tmp_path / "class.csv"
    roster.write_text("username\nann\nBad Name\n")
    ctx = make_ctx(tmp_path, overrides=[f"users.roster={roster}"])
    with pytest.raises(MboxedError, match=r"class.csv:3: 'Bad Name' is not a valid user name"):
        run(ctx, make())
    assert ctx.outputs("users") == {}


def test_a_roster_header_the_reader_does_not_know_fails_before_anything_changes(
    tmp_path: Path,
) -> None:
    roster = tmp_path / "class.csv"
    roster.write_text("fullname,mail\nAnn Example,ann@uni.example\n")
    ctx = make_ctx(tmp_path, overrides=[f"users.roster={roster}"])
    with pytest.raises(MboxedError) as error:
        run(ctx, make())
    assert error.value.message.startswith(f"{roster}:1: the header names no user name column")
    assert "username" in (error.value.hint or "")
    assert ctx.outputs("users") == {}


def test_roster_users_join_the_class(tmp_path: Path) -> None:
    roster = tmp_path / "class.csv"
    roster.write_text("username,display name\nann,Ann Example\n")
    ctx = make_ctx(tmp_path, overrides=[f"users.roster={roster}", "users.preset=none"])
    assert run(ctx, make()) == ["done"]
    reva, ann = ctx.outputs("users")["users"]
    assert reva["name"] == "reva" and reva["password"] != "reva"  # service identity, not public
    assert (ann["name"], ann["display_name"], ann["groups"]) == ("ann", "Ann Example", ["users"])
    # editing the roster file is drift the step notices
    roster.write_text("username,display name\nann,Ann Example\nbob,Bob\n")
    assert run(make_ctx(tmp_path, overrides=[f"users.roster={roster}", "users.preset=none"]),
               make()) == ["done"]  # fmt: skip


def test_users_step_needs_neither_cluster_nor_secrets(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)  # hostname auto, nothing else ran
    assert run(ctx, make()) == ["done"]
    assert not ctx.state.has_step("cluster") and not ctx.state.has_step("secrets")


def test_generated_passwords_are_redacted_classic_ones_are_not(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, profile="workshop")
    run(ctx, make())
    users = {u["name"]: u for u in ctx.outputs("users")["users"]}
    assert ctx.shell.redact(users["student01"]["password"]) == "***"
    assert ctx.shell.redact("cn=admin") == "cn=admin"  # the public demo 'admin' stays readable


def test_a_class_too_big_for_the_charts_configmap_is_refused_at_the_users_step(
    tmp_path: Path,
) -> None:
    ctx = make_ctx(tmp_path, profile="workshop", overrides=["users.generate.count=2500"])
    step = make()
    plan = step.plan(ctx, step.facts(ctx))
    assert plan.blocked and "more than the 1 MiB" in plan.reason
    with pytest.raises(MboxedError, match="users: the LDIF of 2506 users is") as info:
        run(ctx, step)
    assert "users.generate.count" in info.value.hint
    assert ctx.outputs("users") == {}  # nothing stored
