"""What the profile asks for, turned into the deployment's users and groups.

Three sources, in this order (DESIGN §5, profile `users`):
- `preset: classic` — the six documented demo users (accounts.CLASSIC_USERS);
  `reva` is the service identity the eos-user-cache-refresher looks for.
- `roster` — a CSV of names (mboxed.sciencebox.roster).
- `generate` — `count` users `<prefix>01`, `<prefix>02`, ... with strong random
  passwords.

Users already stored (state, step `users`) keep their uid, password and UUID
when the profile changes: EOS homes stay theirs.
"""

from __future__ import annotations

import secrets as _random
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mboxed.errors import MboxedError
from mboxed.sciencebox.accounts import (
    CLASSIC_GROUPS,
    CLASSIC_USERS,
    FIRST_EXTRA_UID,
    MAIL_DOMAIN,
    SERVICE_USER,
    USERS_GID,
    Group,
    User,
    check_name,
)
from mboxed.sciencebox.ldif import check_ssha, ssha
from mboxed.sciencebox.roster import RosterEntry, read_roster

# Printed on credential cards, so no look-alikes (0/O, 1/l/I).
CARD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def random_password(length: int) -> str:
    return "".join(_random.choice(CARD_ALPHABET) for _ in range(length))


@dataclass(frozen=True)
class Wanted:
    """What the profile asks for, before uids and passwords are assigned."""

    classic: bool
    roster: tuple[RosterEntry, ...]
    count: int
    prefix: str
    password_length: int

    def names(self) -> list[str]:
        out = [u[0] for u in CLASSIC_USERS] if self.classic else [SERVICE_USER[0]]
        out += [entry.name for entry in self.roster]
        out += generated_names(self.prefix, self.count)
        return out


def generated_names(prefix: str, count: int) -> list[str]:
    width = max(2, len(str(count)))
    return [f"{prefix}{n:0{width}d}" for n in range(1, count + 1)]


def wanted_from_profile(users: Any) -> Wanted:
    """`users` is the profile's `users` section (mboxed.profile_schema.Users)."""
    roster = tuple(read_roster(users.roster)) if users.roster else ()
    wanted = Wanted(
        classic=users.preset == "classic",
        roster=roster,
        count=users.generate.count,
        prefix=users.generate.prefix,
        password_length=users.generate.password_length,
    )
    check_unique(wanted)
    return wanted


def check_unique(wanted: Wanted) -> None:
    generated = set(generated_names(wanted.prefix, wanted.count))
    if wanted.count:
        check_name(generated_names(wanted.prefix, wanted.count)[-1], "users.generate.prefix")
    for entry in wanted.roster:
        if entry.name in generated:
            raise MboxedError(
                f"users.roster row {entry.row}: {entry.name!r} is also a generated user name",
                hint="change users.generate.prefix or rename the roster row",
            )


def build_users(
    wanted: Wanted, previous: Iterable[Mapping[str, Any]] = ()
) -> tuple[list[User], list[Group]]:
    """Users and groups for `wanted`. Users found in `previous` (by name) keep
    their uid, password, hash and UUID; new users get the next free uid."""
    before = {str(raw["name"]): User.from_dict(raw) for raw in previous if "name" in raw}

    def keep(user: User) -> User:
        old = before.get(user.name)
        if old is not None and old.source == user.source:
            if user.source != "classic":
                user.uid = old.uid
            if not user.password or user.source == "generated":
                user.password = old.password
            if old.password == user.password and check_ssha(user.password, old.password_hash):
                user.password_hash = old.password_hash
            user.uuid = old.uuid or user.uuid
        if not user.password:
            user.password = random_password(wanted.password_length)
        user.uuid = user.uuid or str(uuid.uuid4())
        user.password_hash = user.password_hash or ssha(user.password)
        return user

    users = [keep(user) for user in _base_users(wanted.classic)]
    extra = [_roster_user(entry) for entry in wanted.roster]
    extra += [
        _generated_user(wanted.prefix, name)
        for name in generated_names(wanted.prefix, wanted.count)
    ]
    kept = [keep(u) for u in extra]
    taken = {u.uid for u in users} | {u.uid for u in kept if u.uid}
    # uids of stored users that are gone stay reserved: their EOS homes remain.
    taken |= {u.uid for u in before.values()}
    next_uid = FIRST_EXTRA_UID
    for user in kept:
        if user.uid:
            continue
        while next_uid in taken:
            next_uid += 1
        user.uid = next_uid
        taken.add(next_uid)
    users += kept

    groups = _groups(users, wanted.classic)
    members_of: dict[str, list[str]] = {}
    for group in groups:
        for member in group.members:
            members_of.setdefault(member, []).append(group.name)
    for user in users:
        user.groups = members_of.get(user.name, [])
    return users, groups


def _base_users(classic: bool) -> list[User]:
    """The classic demo users, or else the service identity alone."""
    if classic:
        return [
            User(name, uid, gid, pw, display, f"{name}@{MAIL_DOMAIN}",
                 given_name=given, surname=sn, source="classic")
            for name, pw, uid, gid, given, sn, display in CLASSIC_USERS
        ]  # fmt: skip
    name, uid, gid = SERVICE_USER
    description = "The service identity of the reva storage providers."
    return [
        User(name, uid, gid, "", "Reva", f"{name}@{MAIL_DOMAIN}",
             given_name=name, surname="Reva", description=description, source="service")
    ]  # fmt: skip


def _roster_user(entry: RosterEntry) -> User:
    """A roster row; uid 0 and an empty password are assigned later."""
    display = entry.display_name or entry.name
    given, _, surname = display.partition(" ")
    return User(entry.name, 0, USERS_GID, entry.password, display,
                entry.email or f"{entry.name}@{MAIL_DOMAIN}",
                given_name=given or entry.name, surname=surname or entry.name,
                source="roster")  # fmt: skip


def _generated_user(prefix: str, name: str) -> User:
    number = name[len(prefix) :]
    return User(name, 0, USERS_GID, "", f"{prefix.capitalize()} {number}",
                f"{name}@{MAIL_DOMAIN}", given_name=prefix.capitalize(), surname=number,
                source="generated")  # fmt: skip


def _groups(users: Sequence[User], classic: bool) -> list[Group]:
    everyone = [u.name for u in users if u.gid == USERS_GID]
    groups = [Group("users", USERS_GID, everyone, "Users")]
    if classic:
        for name, gid, description, members in CLASSIC_GROUPS:
            groups.append(Group(name, gid, list(members), description))
    for group in groups:
        group.uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"mboxed:group:{group.name}"))
    # groupOfUniqueNames needs at least one uniqueMember: an empty group is left out.
    return [g for g in groups if g.members]


def removed_users(
    previous: Iterable[Mapping[str, Any]],
    removed_before: Iterable[Any],
    users: Sequence[User],
) -> list[dict[str, Any]]:
    """The records of users deployed once and not wanted now, kept for good:
    their LDAP entries are deleted by every later seeding run, their uid stays
    reserved (their EOS home is theirs), and one who comes back gets the same
    uid, password and UUID (build_users reads these records like stored ones)."""
    now = {u.name for u in users}
    out: dict[str, dict[str, Any]] = {}
    for raw in [*removed_before, *previous]:  # the stored record wins
        record = dict(raw) if isinstance(raw, Mapping) else {"name": str(raw)}
        name = str(record.get("name") or "")
        if name and name not in now:
            out[name] = record
    return [out[name] for name in sorted(out)]
