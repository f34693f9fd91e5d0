"""LDIF and {SSHA}: the chart's layout, the EOS list agreeing with it, and
proof against a real slapd on 127.0.0.1 (tests/services/slapd.py): every
user binds with its password, a wrong password fails."""

from __future__ import annotations

import base64
import re
import string
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mboxed.sciencebox import accounts, allocation, ldif, roster
from tests.sciencebox.user_sets import wanted
from tests.services import slapd as slapd_service


def parse_ldif(text: str) -> list[dict[str, list[str]]]:
    """A minimal LDIF reader (no folding is ever emitted): entries as
    attribute -> values, base64 values decoded."""
    entries = []
    for block in text.strip().split("\n\n"):
        entry: dict[str, list[str]] = {}
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            if ":: " in line:
                key, value = line.split(":: ", 1)
                entry.setdefault(key, []).append(base64.b64decode(value).decode("utf-8"))
            else:
                key, value = line.split(": ", 1)
                entry.setdefault(key, []).append(value)
        entries.append(entry)
    return entries


def test_the_chart_hashes_verify_with_our_ssha_checker() -> None:
    # userPassword values of the chart's own LDIF (facts: what slappasswd made)
    chart = {
        "relativity": "e1NTSEF9TXJEcXpFNGdKbXZxbVRVTGhvWEZ1VzJBbkV3NWFLK3J3WTIvbHc9PQ==",
        "vista": "e1NTSEF9N0hEdTRoMkFDVExFWWt4U0RtSDZVQjhmUlpKRExDZDc=",
    }
    for password, encoded in chart.items():
        hashed = base64.b64decode(encoded).decode()
        assert ldif.check_ssha(password, hashed)
        assert not ldif.check_ssha(password + "!", hashed)


def test_ssha_format_is_sha1_digest_plus_salt() -> None:
    hashed = ldif.ssha("secret", salt=b"12345678")
    assert hashed.startswith("{SSHA}")
    raw = base64.b64decode(hashed[6:])
    assert len(raw) == 28 and raw[20:] == b"12345678"
    assert ldif.check_ssha("secret", hashed)
    assert ldif.ssha("secret") != ldif.ssha("secret")  # fresh salt each time


def test_ldif_entries_match_the_chart_layout_and_the_eos_list() -> None:
    users, groups = allocation.build_users(wanted(count=3))
    files = ldif.render_ldif(users, groups)
    assert set(files) == {"10_users.ldif", "20_groups.ldif", "30_memberships.ldif"}
    entries = parse_ldif(files["10_users.ldif"])
    assert entries[0]["dn"] == ["ou=users,dc=owncloud,dc=com"]
    eos = accounts.eos_user_list(users)
    for entry in entries[1:]:
        name = entry["uid"][0]
        assert entry["dn"] == [f"uid={name},ou=users,dc=owncloud,dc=com"]
        assert entry["objectClass"] == [
            "inetOrgPerson", "organizationalPerson", "ownCloud", "person", "posixAccount", "top",
        ]  # fmt: skip
        assert entry["homeDirectory"] == [f"/home/{name}"]
        uuid.UUID(entry["ownCloudUUID"][0])
        assert entry["userPassword"][0].startswith("{SSHA}")
        assert eos[name] == {"uid": int(entry["uidNumber"][0]), "gid": int(entry["gidNumber"][0])}
    assert len(entries) - 1 == len(eos) == len(users)
    group_entries = parse_ldif(files["20_groups.ldif"])
    users_group = next(g for g in group_entries if g.get("cn") == ["users"])
    assert users_group["gidNumber"] == ["30000"]
    assert sorted(users_group["uniqueMember"]) == sorted(
        u.dn for u in users if u.gid == accounts.USERS_GID
    )


def test_non_ascii_values_are_base64_in_the_ldif() -> None:
    users, groups = allocation.build_users(wanted())
    text = ldif.render_ldif(users, groups)["10_users.ldif"]
    assert "Skłodowska" not in text
    marie = next(e for e in parse_ldif(text) if e.get("uid") == ["marie"])
    assert marie["displayName"] == ["Marie Skłodowska Curie"]


names = st.text(alphabet=string.ascii_lowercase + string.digits + "-_", min_size=0, max_size=20)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    count=st.integers(min_value=0, max_value=150),
    classic=st.booleans(),
    prefix=st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True),
    names_in_roster=st.lists(st.from_regex(r"[a-z][a-z0-9_-]{0,12}", fullmatch=True), max_size=12),
)
def test_any_user_set_is_consistent_between_ldif_and_eos(
    count: int, classic: bool, prefix: str, names_in_roster: list[str]
) -> None:
    generated = set(allocation.generated_names(prefix, count))
    unique_roster = [
        n for n in dict.fromkeys(names_in_roster)
        if n not in generated | accounts.CLASSIC_NAMES | accounts.RESERVED_NAMES
    ]  # fmt: skip
    entries = tuple(roster.RosterEntry(n, "", "", "", i) for i, n in enumerate(unique_roster, 1))
    want = wanted(classic=classic, count=count, prefix=prefix, roster=entries, length=8)
    allocation.check_unique(want)
    users, groups = allocation.build_users(want)
    assert [u.name for u in users] == want.names()
    assert len({u.uid for u in users}) == len(users)
    assert all(accounts.USER_NAME.match(u.name) for u in users)
    files = ldif.render_ldif(users, groups)
    ldif_users = parse_ldif(files["10_users.ldif"])[1:]
    eos = accounts.eos_user_list(users)
    assert {e["uid"][0]: {"uid": int(e["uidNumber"][0]), "gid": int(e["gidNumber"][0])}
            for e in ldif_users} == eos  # fmt: skip
    for group in parse_ldif(files["20_groups.ldif"])[1:]:
        assert group["uniqueMember"], "an LDAP groupOfUniqueNames needs a member"
        for dn in group["uniqueMember"]:
            assert re.fullmatch(r"uid=[a-z][a-z0-9_-]*,ou=users,dc=owncloud,dc=com", dn)


@pytest.fixture
def slapd(tmp_path: Path) -> Iterator[slapd_service.Slapd]:
    with slapd_service.slapd_or_skip(tmp_path, "admin-" + uuid.uuid4().hex[:12]) as srv:
        yield srv


def test_every_generated_user_binds_to_a_real_slapd_and_wrong_passwords_fail(
    slapd: slapd_service.Slapd,
) -> None:
    zoe = tuple(roster.parse_roster("username,display name\nzoe,Zoë Ünicode\n"))
    users, groups = allocation.build_users(wanted(count=25, roster=zoe))
    for name, text in ldif.render_ldif(users, groups).items():
        added = slapd.ldapadd(text)
        assert added.returncode == 0, f"{name}: {added.stderr}"
    for user in users:
        ok = slapd.whoami(user.dn, user.password)
        assert ok.returncode == 0, f"{user.name}: {ok.stderr}"
        assert ok.stdout.strip() == f"dn:{user.dn}"
    for user in users[:: max(1, len(users) // 6)]:
        wrong = slapd.whoami(user.dn, user.password + "x")
        assert wrong.returncode == 49, wrong.stderr  # LDAP_INVALID_CREDENTIALS
        assert "Invalid credentials" in wrong.stderr
    # membership as the LDAP server sees it agrees with the EOS list's gids
    found = slapd.search("ou=groups,dc=owncloud,dc=com", "(cn=users)", "gidNumber", "memberUid")
    assert "gidNumber: 30000" in found
    for user in users:
        if user.gid == accounts.USERS_GID:
            assert f"memberUid: {user.name}\n" in found


def _seed(slapd: slapd_service.Slapd, files: dict[str, str]) -> list[str]:
    """What the seeding Job's script does, once `-c` is in: each *.ldif in
    name order through `ldapadd -c`. Returns ldapadd's stderr per file."""
    return [slapd.ldapadd(files[name], cont=True).stderr for name in sorted(files)]


def test_a_grown_class_reaches_a_seeded_ldap_when_the_job_runs_again(
    slapd: slapd_service.Slapd,
) -> None:
    """First install with 30 students, then `up --set users.generate.count=40`:
    the same script run again (with -c) over the grown LDIF adds the ten new
    users, skips the existing ones, and every user, old and new, binds with
    the password the state has for them; the group lists every member."""
    first_users, first_groups = allocation.build_users(wanted(count=30))
    errors = _seed(slapd, ldif.render_ldif(first_users, first_groups))
    assert not any("Already exists" in e for e in errors), errors

    # the users step grows the class: stored users keep uid and password
    grown_users, grown_groups = allocation.build_users(
        wanted(count=40), [u.to_dict() for u in first_users]
    )
    assert {u.name: u.password for u in grown_users if u.name in {f.name for f in first_users}} == {
        u.name: u.password for u in first_users
    }
    files = ldif.render_ldif(grown_users, grown_groups)
    # without -c (the chart's script as shipped) nothing new gets in: ldapadd
    # stops at the first entry, ou=users, which exists
    plain = slapd.ldapadd(files["10_users.ldif"])
    assert plain.returncode == 68 and "Already exists" in plain.stderr
    assert slapd.whoami(grown_users[-1].dn, grown_users[-1].password).returncode == 49

    errors = _seed(slapd, files)
    assert "Already exists" in errors[0]  # the old entries were skipped, not fatal
    assert not errors[2], errors[2]  # memberships: replaced without error
    for user in grown_users:
        ok = slapd.whoami(user.dn, user.password)
        assert ok.returncode == 0, f"{user.name}: {ok.stderr}"
    new = [u for u in grown_users if u.name not in {f.name for f in first_users}]
    assert [u.name for u in new] == [f"student{n}" for n in range(31, 41)]
    found = slapd.search("ou=groups,dc=owncloud,dc=com", "(cn=users)", "uniqueMember", "memberUid")
    for user in grown_users:
        if user.gid == accounts.USERS_GID:
            assert f"memberUid: {user.name}\n" in found
            assert f"uniqueMember: {user.dn}\n" in found

    # and a third run with nothing new changes nothing and breaks nothing
    _seed(slapd, files)
    assert slapd.search("ou=users,dc=owncloud,dc=com", "(uid=student40)", "uid").count("dn: ") == 1

    # a student taken off the class leaves the groups (replace) and LDAP
    # (40_removed.ldif: changetype delete); everyone else still binds
    previous = [u.to_dict() for u in grown_users]
    fewer_users, fewer_groups = allocation.build_users(wanted(count=39), previous)
    removed = accounts.removed_names(allocation.removed_users(previous, [], fewer_users))
    assert removed == ["student40"]
    files = ldif.render_ldif(fewer_users, fewer_groups, removed)
    assert files["40_removed.ldif"] == (
        "dn: uid=student40,ou=users,dc=owncloud,dc=com\nchangetype: delete\n\n"
    )
    errors = _seed(slapd, files)
    assert not errors[3], errors[3]
    found = slapd.search("ou=groups,dc=owncloud,dc=com", "(cn=users)", "memberUid")
    assert "memberUid: student40\n" not in found and "memberUid: student39\n" in found
    gone = slapd.whoami(grown_users[-1].dn, grown_users[-1].password)
    assert gone.returncode == 49, gone.stderr  # no such entry: cannot log in
    assert "student40" not in slapd.search("ou=users,dc=owncloud,dc=com", "(uid=*)", "uid")
    for user in fewer_users:
        assert slapd.whoami(user.dn, user.password).returncode == 0, user.name
    # the next run deletes it again: "No such object", and ldapadd -c goes on
    errors = _seed(slapd, files)
    assert "No such object" in errors[3]
    assert slapd.whoami(fewer_users[-1].dn, fewer_users[-1].password).returncode == 0


def test_ldif_with_a_bad_object_would_be_rejected_by_slapd(slapd: slapd_service.Slapd) -> None:
    # The server really checks the schema: a group without a member is refused,
    # which is why build_users leaves empty groups out.
    bad = (
        "dn: ou=groups,dc=owncloud,dc=com\nobjectClass: organizationalUnit\nou: groups\n\n"
        "dn: cn=empty,ou=groups,dc=owncloud,dc=com\nobjectClass: groupOfUniqueNames\n"
        "objectClass: posixGroup\nobjectClass: top\ncn: empty\ngidNumber: 31000\n"
    )
    result = slapd.ldapadd(bad)
    assert result.returncode != 0
    assert "uniqueMember" in result.stderr
    users, groups = allocation.build_users(wanted(classic=False, count=0))
    assert [u.name for u in users] == ["reva"]  # the service identity is always there
    assert groups == []  # reva (gid 15000) is in no group, and no group is left empty


def test_the_seeding_job_replaces_every_user_attribute_mboxed_writes() -> None:
    # job_scripts.py turns a user's add record into `replace:` of these: an
    # attribute written but missing here would never be updated in LDAP
    zoe = tuple(roster.parse_roster("username,display name\nzoe,Zoë Ünicode\n"))
    users, _ = allocation.build_users(wanted(classic=False, count=1, roster=zoe))
    written = {
        key
        for entry in parse_ldif(ldif.render_users_ldif(users))[1:]
        for key in entry
        if key not in ("dn", "objectClass", "uid")
    }
    assert "description" in written  # reva's
    assert written == set(ldif.OWNED_ATTRIBUTES)
