"""The user and group records: their fields, the name rules, the classic
preset's facts, and how they are stored and listed for EOS.

`User` and `Group` are what every other part works from: the roster and the
profile are turned into them (mboxed.sciencebox.allocation), they are
rendered into the chart's LDIF (mboxed.sciencebox.ldif) and into the EOS user
list (`eos_user_list`), so uidNumber/gidNumber in LDAP and uid/gid in EOS
agree by construction. The state (step `users`) stores them as plain
mappings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Self

from mboxed.errors import MboxedError

BASE_DN = "dc=owncloud,dc=com"  # ldap.env.LDAP_BASE_DN of the chart
USERS_OU = f"ou=users,{BASE_DN}"
GROUPS_OU = f"ou=groups,{BASE_DN}"
USERS_GID = 30000  # group `users` holds everyone (chart 20_groups.ldif)
FIRST_EXTRA_UID = 20100  # roster and generated users; classic uses 20000-20004
MAIL_DOMAIN = "example.org"

# A POSIX user name as useradd accepts it by default (NAME_REGEX
# ^[a-z][-a-z0-9_]*$), at most 32 characters; also a valid LDAP uid value
# (IA5String) and a safe EOS home path component (/eos/user/<initial>/<name>).
USER_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
RESERVED_NAMES = frozenset({"root", "daemon", "nobody", "bin", "sys", "eos", "users", "reva"})
# `reva` is the service identity eos-user-cache-refresher waits for
# (eos-user-cache-refresher.refreshUserCache.exitOnResolve.identity in the
# chart): it exists in every deployment, with `preset: none` under a random
# password.
SERVICE_USER = ("reva", 10001, 15000)


class _Record:
    """Stored in the state as plain mappings; keys a newer mboxed added and
    this one does not know are ignored on the way back."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Self:
        known = set(cls.__dataclass_fields__)  # type: ignore[attr-defined]
        return cls(**{k: v for k, v in raw.items() if k in known})


@dataclass
class User(_Record):
    name: str
    uid: int
    gid: int
    password: str
    display_name: str
    email: str
    groups: list[str] = field(default_factory=list)
    given_name: str = ""
    surname: str = ""
    description: str = ""
    uuid: str = ""
    password_hash: str = ""
    source: str = "generated"  # classic | roster | generated

    @property
    def dn(self) -> str:
        return f"uid={self.name},{USERS_OU}"


@dataclass
class Group(_Record):
    name: str
    gid: int
    members: list[str]
    description: str = ""
    uuid: str = ""

    @property
    def dn(self) -> str:
        return f"cn={self.name},{GROUPS_OU}"


def check_name(name: str, where: str) -> str:
    if not USER_NAME.match(name):
        raise MboxedError(
            f"{where}: {name!r} is not a valid user name",
            hint="a user name is 1-32 characters: lowercase letters, digits, '-' and '_', "
            "starting with a letter (valid as a POSIX user name and an LDAP uid)",
        )
    if name in RESERVED_NAMES:
        raise MboxedError(
            f"{where}: {name!r} is reserved",
            hint="reserved names: " + ", ".join(sorted(RESERVED_NAMES)),
        )
    return name


# --- the classic preset (facts from the chart's LDIF) ----------------------------

# The six documented demo users of the original mboxed README, with the uids,
# gids, groups and passwords of the LDIF that sciencebox/charts
# sciencebox/values.yaml (0.0.8) seeds through `ldap-instance-config.ldifFiles`.
# name, password, uid, gid, given name, surname, display name
CLASSIC_USERS: tuple[tuple[str, str, int, int, str, str, str], ...] = (
    ("einstein", "relativity", 20000, 30000, "Albert", "Einstein", "Albert Einstein"),
    ("marie", "radioactivity", 20001, 30000, "Marie", "Curie", "Marie Skłodowska Curie"),
    ("richard", "superfluidity", 20002, 30000, "Richard", "Feynman", "Richard Phillips Feynman"),
    ("moss", "vista", 20003, 30000, "Maurice", "Moss", "Maurice Moss"),
    ("admin", "admin", 20004, 30000, "Admin", "Admin", "Admin"),
    ("reva", "reva", 10001, 15000, "reva", "Reva", "Reva"),
)
# name, gid, description, members (besides `users`, which holds every gid-30000 user)
CLASSIC_GROUPS: tuple[tuple[str, int, str, tuple[str, ...]], ...] = (
    ("sailing-lovers", 30001, "Sailing lovers", ("einstein",)),
    ("violin-haters", 30002, "Violin haters", ("einstein",)),
    ("radium-lovers", 30003, "Radium lovers", ("marie",)),
    ("polonium-lovers", 30004, "Polonium lovers", ("marie",)),
    ("quantum-lovers", 30005, "Quantum lovers", ("richard",)),
    ("philosophy-haters", 30006, "Philosophy haters", ("richard",)),
    ("physics-lovers", 30007, "Physics lovers", ("einstein", "marie", "richard")),
)
CLASSIC_NAMES = frozenset(u[0] for u in CLASSIC_USERS)


# --- stored records ---------------------------------------------------------------


def users_from_state(outputs: Mapping[str, Any]) -> tuple[list[User], list[Group]]:
    users = [User.from_dict(raw) for raw in outputs.get("users") or []]
    groups = [Group.from_dict(raw) for raw in outputs.get("groups") or []]
    return users, groups


def removed_names(removed: Iterable[Any]) -> list[str]:
    """Names of `removed_users` records (plain names are accepted too)."""
    return [str(r.get("name")) if isinstance(r, Mapping) else str(r) for r in removed]


def full_records(records: Iterable[Any]) -> list[dict[str, Any]]:
    """The records `User.from_dict` can read (every field without a default)."""
    needed = {"name", "uid", "gid", "password", "display_name", "email"}
    return [dict(r) for r in records if isinstance(r, Mapping) and needed <= set(r)]


def eos_user_list(users: Sequence[User]) -> dict[str, dict[str, int]]:
    """`eos-instance-config.config.demoUsers.userList`: EOS creates a home
    /eos/user/<initial>/<name> owned by uid:gid for each."""
    return {u.name: {"uid": u.uid, "gid": u.gid} for u in users}
