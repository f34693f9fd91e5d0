"""Demo and class users: who they are, their LDIF for LDAP, their EOS uid/gid list.

Three sources, in this order (DESIGN §5, profile `users`):
- `preset: classic` — the six documented demo users of the original mboxed
  README, with the uids, gids, groups and passwords of the LDIF that
  sciencebox/charts sciencebox/values.yaml (0.0.8) seeds through
  `ldap-instance-config.ldifFiles`; `reva` is the service identity the
  eos-user-cache-refresher looks for.
- `roster` — a CSV of names (see `read_roster`).
- `generate` — `count` users `<prefix>01`, `<prefix>02`, ... with strong random
  passwords.

One list of `User` feeds both the LDIF (`render_ldif`) and the EOS user list
(`eos_user_list`), so uidNumber/gidNumber in LDAP and uid/gid in EOS agree by
construction. Users already stored (state, step `users`) keep their uid,
password and UUID when the profile changes: EOS homes stay theirs.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import secrets as _random
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

from mboxed.errors import MboxedError

BASE_DN = "dc=owncloud,dc=com"  # ldap.env.LDAP_BASE_DN of the chart
USERS_OU = f"ou=users,{BASE_DN}"
GROUPS_OU = f"ou=groups,{BASE_DN}"
USERS_GID = 30000  # group `users` holds everyone (chart 20_groups.ldif)
FIRST_EXTRA_UID = 20100  # roster and generated users; classic uses 20000-20004
MAIL_DOMAIN = "example.org"

# Printed on credential cards, so no look-alikes (0/O, 1/l/I).
CARD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

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


# --- the classic preset (facts from the chart's LDIF) ----------------------------

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


# --- passwords --------------------------------------------------------------------


def random_password(length: int) -> str:
    return "".join(_random.choice(CARD_ALPHABET) for _ in range(length))


def ssha(password: str, salt: bytes | None = None) -> str:
    """`{SSHA}` + base64(sha1(password + salt) + salt), as slapd's
    slappasswd writes it (OpenLDAP contrib/slapd-modules/passwd, RFC 2307)."""
    salt = _random.token_bytes(8) if salt is None else salt
    digest = hashlib.sha1(password.encode("utf-8") + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode("ascii")


def check_ssha(password: str, hashed: str) -> bool:
    if not hashed.startswith("{SSHA}"):
        return False
    raw = base64.b64decode(hashed[6:])
    digest, salt = raw[:20], raw[20:]
    return hashlib.sha1(password.encode("utf-8") + salt).digest() == digest


# --- the roster -------------------------------------------------------------------


@dataclass(frozen=True)
class RosterEntry:
    name: str
    display_name: str
    email: str
    password: str
    row: int


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


_HEADER_ALIASES = {
    "username": "name",
    "user": "name",
    "uid": "name",
    "login": "name",
    "name": "name",
    "display_name": "display_name",
    "displayname": "display_name",
    "full_name": "display_name",
    "fullname": "display_name",
    "email": "email",
    "mail": "email",
    "password": "password",
}


def parse_roster(text: str, source: str = "roster") -> list[RosterEntry]:
    """Rows of a roster CSV.

    With a header row, the columns are named (username/uid/login, display_name,
    email, password; others are ignored). Without one: username, then optional
    display name, email. Blank lines and lines starting with '#' are skipped.
    """
    reader = csv.reader(io.StringIO(text))
    entries: list[RosterEntry] = []
    columns: dict[str, int] | None = None
    seen: dict[str, int] = {}
    ended = 0  # the line the previous row ended on
    for row in reader:
        # the line the row starts on (a quoted field may span lines)
        number, ended = ended + 1, reader.line_num
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if columns is None and not entries:
            names = [_HEADER_ALIASES.get(c.lower().replace(" ", "_"), "") for c in cells]
            if "name" in names and cells[0].lower() not in seen:
                # A header may carry columns of its own (group, notes, …), which
                # are ignored; a first data row is told apart by its e-mail.
                header_like = not any("@" in c for c in cells)
                if header_like:
                    columns = {n: i for i, n in enumerate(names) if n}
                    continue
        cols = columns or {"name": 0, "display_name": 1, "email": 2}

        def cell(key: str, cells: list[str] = cells, cols: dict[str, int] = cols) -> str:
            index = cols.get(key)
            return cells[index] if index is not None and index < len(cells) else ""

        where = f"{source}:{number}"
        name = check_name(cell("name"), where)
        if name in CLASSIC_NAMES:
            raise MboxedError(
                f"{where}: {name!r} is one of the classic demo users",
                hint="rename the row, or set users.preset: none",
            )
        if name in seen:
            raise MboxedError(f"{where}: {name!r} appears twice (first on row {seen[name]})")
        seen[name] = number
        email = cell("email")
        if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            raise MboxedError(f"{where}: {email!r} is not an e-mail address")
        display = cell("display_name")
        if any(ch in display for ch in "\r\n\x00"):
            raise MboxedError(f"{where}: the display name has a line break")
        pw = cell("password")
        if any(ch in pw for ch in "\r\n\x00"):
            raise MboxedError(f"{where}: the password of {name!r} has a line break")
        if pw and len(pw) < 8:
            raise MboxedError(
                f"{where}: the password of {name!r} is shorter than 8 characters",
                hint="leave the password column empty to have one generated",
            )
        entries.append(RosterEntry(name, display, email, pw, number))
    return entries


def read_roster(path: str | Path) -> list[RosterEntry]:
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MboxedError(
            f"users.roster: {file} does not exist",
            hint="give the path of a CSV file with one user name per row",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MboxedError(f"users.roster: cannot read {file}: {exc}") from None
    return parse_roster(text, str(file))


# --- building the set ---------------------------------------------------------------


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
    """`users` is the profile's `users` section (mboxed.profile.Users)."""
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
    users: list[User] = []

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

    if wanted.classic:
        for name, pw, uid, gid, given, sn, display in CLASSIC_USERS:
            users.append(
                keep(
                    User(
                        name,
                        uid,
                        gid,
                        pw,
                        display,
                        f"{name}@{MAIL_DOMAIN}",
                        [],
                        given,
                        sn,
                        source="classic",
                    )
                )
            )
    else:
        name, uid, gid = SERVICE_USER
        users.append(
            keep(
                User(
                    name,
                    uid,
                    gid,
                    "",
                    "Reva",
                    f"{name}@{MAIL_DOMAIN}",
                    [],
                    name,
                    "Reva",
                    "The service identity of the reva storage providers.",
                    source="service",
                )
            )
        )
    extra: list[User] = []
    for entry in wanted.roster:
        given, _, surname = (entry.display_name or entry.name).partition(" ")
        extra.append(
            User(
                entry.name,
                0,
                USERS_GID,
                entry.password,
                entry.display_name or entry.name,
                entry.email or f"{entry.name}@{MAIL_DOMAIN}",
                [],
                given or entry.name,
                surname or entry.name,
                source="roster",
            )
        )
    for name in generated_names(wanted.prefix, wanted.count):
        number = name[len(wanted.prefix) :]
        extra.append(
            User(
                name,
                0,
                USERS_GID,
                "",
                f"{wanted.prefix.capitalize()} {number}",
                f"{name}@{MAIL_DOMAIN}",
                [],
                wanted.prefix.capitalize(),
                number,
                source="generated",
            )
        )
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


def users_from_state(outputs: Mapping[str, Any]) -> tuple[list[User], list[Group]]:
    users = [User.from_dict(raw) for raw in outputs.get("users") or []]
    groups = [Group.from_dict(raw) for raw in outputs.get("groups") or []]
    return users, groups


# --- LDIF ---------------------------------------------------------------------------


def _safe_string(value: str) -> bool:
    """RFC 2849 SAFE-STRING: ASCII without NUL/CR/LF, not starting with
    space, ':' or '<', and (by convention) not ending with a space."""
    if not value:
        return True
    if value[0] in " :<" or value.endswith(" "):
        return False
    return all(0x01 <= ord(c) <= 0x7F and c not in "\r\n" for c in value)


def _attr(name: str, value: str) -> str:
    if _safe_string(value):
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}"


def _b64(name: str, value: str) -> str:
    return f"{name}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}"


def render_users_ldif(users: Sequence[User]) -> str:
    blocks = [f"dn: {USERS_OU}\nobjectClass: organizationalUnit\nou: users"]
    for user in users:
        lines = [
            f"dn: {user.dn}",
            "objectClass: inetOrgPerson",
            "objectClass: organizationalPerson",
            "objectClass: ownCloud",
            "objectClass: person",
            "objectClass: posixAccount",
            "objectClass: top",
            _attr("uid", user.name),
            _attr("givenName", user.given_name or user.name),
            _attr("sn", user.surname or user.name),
            _attr("cn", user.name),
            _attr("displayName", user.display_name),
        ]
        if user.description:
            lines.append(_attr("description", user.description))
        lines += [
            _attr("mail", user.email),
            f"uidNumber: {user.uid}",
            f"gidNumber: {user.gid}",
            f"homeDirectory: /home/{user.name}",
            _b64("ownCloudUUID", user.uuid),
            _b64("userPassword", user.password_hash),
        ]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def render_groups_ldif(groups: Sequence[Group], users: Sequence[User]) -> str:
    by_name = {u.name: u for u in users}
    blocks = [f"dn: {GROUPS_OU}\nobjectClass: organizationalUnit\nou: groups"]
    for group in groups:
        lines = [
            f"dn: {group.dn}",
            "objectClass: groupOfUniqueNames",
            "objectClass: posixGroup",
            "objectClass: ownCloud",
            "objectClass: top",
            _attr("cn", group.name),
            _attr("description", group.description or group.name),
            f"gidNumber: {group.gid}",
            _b64("ownCloudUUID", group.uuid),
        ]
        lines += [f"uniqueMember: {by_name[m].dn}" for m in group.members if m in by_name]
        # memberUid too, so nslcd (EOS MGM's ldapBindUsers) sees the memberships
        lines += [f"memberUid: {m}" for m in group.members if m in by_name]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def render_memberships_ldif(groups: Sequence[Group], users: Sequence[User]) -> str:
    """Each group's members set again (RFC 2849 `changetype: modify`,
    `replace:`), so that a second run of the seeding Job brings the groups of
    an existing LDAP up to date: `ldapadd -c` skips the group entries of
    20_groups.ldif that already exist (LDAP error 68), and `ldapadd` is
    `ldapmodify -a`, which applies records that name their changetype as
    written. `replace` is idempotent and drops members who left."""
    by_name = {u.name: u for u in users}
    blocks = []
    for group in groups:
        members = [m for m in group.members if m in by_name]
        lines = [f"dn: {group.dn}", "changetype: modify", "replace: uniqueMember"]
        lines += [f"uniqueMember: {by_name[m].dn}" for m in members]
        lines += ["-", "replace: memberUid"]
        lines += [f"memberUid: {m}" for m in members]
        lines.append("-")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def render_removed_ldif(removed: Iterable[str], users: Sequence[User]) -> str:
    """`changetype: delete` records for users who were once deployed and are
    no longer wanted (`ldapadd` is `ldapmodify -a`: a record naming its
    changetype is applied as written). Deleting one that is not there fails
    with "No such object" and `ldapadd -c` goes on."""
    wanted = {u.name for u in users}
    names = sorted({n for n in removed if n not in wanted and USER_NAME.match(n)})
    return "".join(f"dn: uid={n},{USERS_OU}\nchangetype: delete\n\n" for n in names)


def render_ldif(
    users: Sequence[User], groups: Sequence[Group], removed: Iterable[str] = ()
) -> dict[str, str]:
    """The `ldap-instance-config.ldifFiles` mapping of the chart. The seeding
    script loads `*.ldif` sorted by name: users, groups, memberships, then the
    deletion of users who left."""
    files = {
        "10_users.ldif": render_users_ldif(users),
        "20_groups.ldif": render_groups_ldif(groups, users),
    }
    memberships = render_memberships_ldif(groups, users)
    if memberships:
        files["30_memberships.ldif"] = memberships
    gone = render_removed_ldif(removed, users)
    if gone:
        files["40_removed.ldif"] = gone
    return files


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
