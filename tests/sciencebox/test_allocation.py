"""Building the users: the classic preset, generated users, roster rows, and
stored users who keep their uid, password and UUID."""

from __future__ import annotations

from mboxed.sciencebox import accounts, allocation, roster
from tests.sciencebox.user_sets import wanted


def test_classic_preset_has_the_documented_users_uids_and_passwords() -> None:
    users, groups = allocation.build_users(wanted())
    table = {u.name: (u.password, u.uid, u.gid) for u in users}
    # SCIENCEBOX.md and the chart's 10_users.ldif (sciencebox/charts 0.0.8)
    assert table == {
        "einstein": ("relativity", 20000, 30000),
        "marie": ("radioactivity", 20001, 30000),
        "richard": ("superfluidity", 20002, 30000),
        "moss": ("vista", 20003, 30000),
        "admin": ("admin", 20004, 30000),
        "reva": ("reva", 10001, 15000),
    }
    by_name = {g.name: g for g in groups}
    assert by_name["users"].gid == 30000
    assert sorted(by_name["users"].members) == ["admin", "einstein", "marie", "moss", "richard"]
    assert by_name["physics-lovers"].members == ["einstein", "marie", "richard"]
    assert {g.gid for g in groups} == set(range(30000, 30008))


def test_generated_users_are_numbered_with_strong_unique_passwords() -> None:
    service, *users = allocation.build_users(
        wanted(classic=False, count=40, prefix="student", length=14)
    )[0]
    assert (service.name, service.uid, service.gid, service.source) == (
        "reva", 10001, 15000, "service"
    )  # fmt: skip
    assert [u.name for u in users][:2] == ["student01", "student02"]
    assert users[-1].name == "student40"
    passwords = [u.password for u in users]
    assert len(set(passwords)) == 40
    assert all(len(p) == 14 and set(p) <= set(allocation.CARD_ALPHABET) for p in passwords)
    assert len({u.uid for u in users}) == 40
    assert all(u.uid >= accounts.FIRST_EXTRA_UID and u.gid == accounts.USERS_GID for u in users)


def test_stored_users_keep_uid_password_and_uuid_when_the_class_grows() -> None:
    first, _ = allocation.build_users(wanted(count=3))
    stored = [u.to_dict() for u in first]
    second, _ = allocation.build_users(wanted(count=5), stored)
    before = {u.name: u for u in first}
    for user in second:
        if user.name in before:
            old = before[user.name]
            assert (user.uid, user.password, user.uuid, user.password_hash) == (
                old.uid,
                old.password,
                old.uuid,
                old.password_hash,
            )
    assert len({u.uid for u in second}) == len(second)


def test_uids_of_removed_users_are_not_reused() -> None:
    first, _ = allocation.build_users(wanted(classic=False, count=3))
    shrunk, _ = allocation.build_users(wanted(classic=False, count=1), [u.to_dict() for u in first])
    regrown, _ = allocation.build_users(
        wanted(classic=False, count=0, roster=(roster.RosterEntry("newbie", "", "", "", 1),)),
        [u.to_dict() for u in first],
    )
    assert shrunk[1].uid == first[1].uid
    assert regrown[1].name == "newbie"
    assert regrown[1].uid not in {u.uid for u in first}


def test_generated_names_never_collide_with_classic_ones() -> None:
    # generated names end in digits, classic names have none
    users, _ = allocation.build_users(wanted(count=12, prefix="admin"))
    assert len({u.name for u in users}) == len(users) == 18
    assert users[6].name == "admin01"


def test_roster_password_column_is_used_and_others_generated() -> None:
    entries = tuple(roster.parse_roster("username,password\nalice,correct-horse\nbob,\n"))
    _reva, alice, bob = allocation.build_users(wanted(classic=False, roster=entries, length=10))[0]
    assert alice.password == "correct-horse"
    assert len(bob.password) == 10
