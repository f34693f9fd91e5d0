"""User and group records: the name rules, the stored form and the EOS list."""

from __future__ import annotations

import pytest

from mboxed.errors import MboxedError
from mboxed.sciencebox import accounts


def test_a_stored_record_with_keys_of_a_newer_mboxed_still_loads() -> None:
    user = accounts.User("ann", 20100, 30000, "pw-123456", "Ann", "ann@example.org")
    raw = {**user.to_dict(), "added_by_a_later_version": 1}
    users, groups = accounts.users_from_state(
        {"users": [raw], "groups": [{"name": "users", "gid": 30000, "members": ["ann"]}]}
    )
    assert users == [user]
    assert users[0].dn == "uid=ann,ou=users,dc=owncloud,dc=com"
    assert groups[0].dn == "cn=users,ou=groups,dc=owncloud,dc=com"


def test_only_complete_records_of_users_who_left_are_read_back() -> None:
    full = accounts.User("ann", 20100, 30000, "pw-123456", "Ann", "ann@example.org").to_dict()
    # an older mboxed stored plain names
    records = [full, "bob", {"name": "carol"}]
    assert accounts.full_records(records) == [full]
    assert accounts.removed_names(records) == ["ann", "bob", "carol"]


def test_the_eos_list_gives_each_user_its_uid_and_gid() -> None:
    users = [
        accounts.User("ann", 20100, 30000, "p", "Ann", "a@x.org"),
        accounts.User("reva", 10001, 15000, "p", "Reva", "r@x.org"),
    ]
    assert accounts.eos_user_list(users) == {
        "ann": {"uid": 20100, "gid": 30000},
        "reva": {"uid": 10001, "gid": 15000},
    }


@pytest.mark.parametrize(
    ("name", "problem"),
    [("Ann", "not a valid user name"), ("a" * 33, "not a valid user name"), ("root", "reserved")],
)
def test_names_that_are_no_posix_user_or_are_reserved_are_refused(name: str, problem: str) -> None:
    with pytest.raises(MboxedError, match=problem) as error:
        accounts.check_name(name, "here")
    assert error.value.message.startswith(f"here: {name!r}")
