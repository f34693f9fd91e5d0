"""The users and groups as the chart's LDIF (`ldap-instance-config.ldifFiles`),
with their passwords as `{SSHA}` hashes."""

from __future__ import annotations

import base64
import hashlib
import secrets as _random
from collections.abc import Iterable, Sequence

from mboxed.sciencebox.accounts import GROUPS_OU, USER_NAME, USERS_OU, Group, User

# The object classes of the chart's own 10_users.ldif and 20_groups.ldif
# (sciencebox/charts sciencebox/values.yaml 0.0.8).
USER_CLASSES = (
    "inetOrgPerson", "organizationalPerson", "ownCloud", "person", "posixAccount", "top"
)  # fmt: skip
GROUP_CLASSES = ("groupOfUniqueNames", "posixGroup", "ownCloud", "top")
# The attributes of a user entry that mboxed sets, besides objectClass and the
# naming attribute uid: the seeding Job replaces them in entries that exist
# (job_scripts.py), so a changed password or name reaches LDAP, and one that
# mboxed no longer writes (description) is removed.
OWNED_ATTRIBUTES = (
    "givenName", "sn", "cn", "displayName", "description", "mail",
    "uidNumber", "gidNumber", "homeDirectory", "ownCloudUUID", "userPassword",
)  # fmt: skip


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
            *(f"objectClass: {name}" for name in USER_CLASSES),
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
            *(f"objectClass: {name}" for name in GROUP_CLASSES),
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
