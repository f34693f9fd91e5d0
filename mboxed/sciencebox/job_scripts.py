"""What the post-renderer changes in the scripts of the chart's two Jobs,
so that a second run (after the users changed) brings LDAP and EOS up to date.

Each edit is (`# Source:` of the rendered document, regex, replacement) and
applies to the script's text as rendered (ConfigMap data, so every inserted
line keeps the indentation of the line it follows). Each pattern stops
matching once applied: rendering the output again changes nothing.

LDAP: ldap-instance-config 0.0.1 templates/configmap.yaml, the `-script`
ConfigMap run by the Job `<release>-ldap-instance-config` as
`/bin/bash /root/instance_config.sh` in osixia/openldap:1.5.0 (OpenLDAP 2.4
ldap-utils, Debian buster: bash, mawk). It loads each `*.ldif` of
/root/ldif-files with `ldapadd -x -H $LDAP_URI -D $LDAP_BIND_DN -w
$LDAP_BIND_PASSWORD -f $ldif`, which
- stops at the first entry that exists: `-c` makes it go on (ldapmodify(1):
  continuous operation mode), so a second run adds the users a first run did
  not know;
- never changes an entry that exists: a changed password would never reach
  LDAP. So after each file, the add records of its users (`dn: uid=...`, class
  posixAccount, no changetype) are turned into `changetype: modify` records
  that `replace` every attribute mboxed writes (ldif.OWNED_ATTRIBUTES; one
  that mboxed no longer writes, such as a dropped description, is replaced by
  nothing, i.e. deleted — RFC 4511 §4.6) and fed to `ldapmodify -c`. They are
  made in the Job, by awk from the same file, rather than shipped in the
  values: the users' LDIF is already most of the 1 MiB the ConfigMap holds.
  Records that name their changetype (40_removed.ldif deletes the users who
  left, 30_memberships.ldif replaces group members) are applied by the
  `ldapadd` line itself (`ldapadd` is `ldapmodify -a`).

EOS: eos-instance-config 0.0.6 templates/configmap.yaml, the `-script`
ConfigMap run by the Job `<release>-eos-instance-config` as `/bin/bash
/root/instance_config.sh` (image eos-all, `alias eos='eos -r 0 0'`). The
script exits at once when `eos config ls` lists `sciencebox_bootstrap`, so
users added later get no home and no `eos access allow user`. The edits keep
the one-time part (space, OAuth2, system attributes, recycle bin, directory
tree) behind that test and let the users' part run on every run:
`create_eos_homedir` first asks `eos stat -d HOME` (EOS console com_stat.cc:
exit 0 for an existing directory, else non-zero; the console exits with the
command's return code) and for an existing home only allows the user again
(`eos access allow user` is idempotent), so a home is never re-created nor
its mode and ACL reset. The configuration is then saved again (`eos config
save ... -f`, as the script does), which keeps the new access entries.
"""

from __future__ import annotations

from mboxed.sciencebox.ldif import OWNED_ATTRIBUTES

LDAP_SCRIPT_SOURCE = "sciencebox/charts/ldap-instance-config/templates/configmap.yaml"
EOS_SCRIPT_SOURCE = "sciencebox/charts/eos-instance-config/templates/configmap.yaml"

LDAPADD_CONTINUE = (LDAP_SCRIPT_SOURCE, r"(?m)^([ \t]*)ldapadd -x ", r"\1ldapadd -c -x ")

# The add records of users, as `changetype: modify` records (RFC 2849). Paragraph
# mode (RS = "") reads one LDIF record at a time; mboxed's LDIF has no folded
# lines and no comments (ldif.py). No single quote (the program is quoted with
# them) and no backslash other than "\n" (the replacement escapes them).
USERS_AS_MODIFY_AWK = (
    'BEGIN { RS = ""; FS = "\\n"; '
    f'n = split("{" ".join(OWNED_ATTRIBUTES)}", names, " "); '
    "for (i = 1; i <= n; i++) owned[names[i]] = 1 }",
    "$1 ~ /^dn: uid=/ && $0 ~ /objectClass: posixAccount/ && $0 !~ /changetype:/ {",
    '  print $1; print "changetype: modify"; last = ""; split("", seen)',
    "  for (i = 2; i <= NF; i++) {",
    '    name = $i; sub(/:.*/, "", name)',
    "    if (!(name in owned)) continue",
    '    if (name != last) { if (last != "") print "-"; print "replace: " name; last = name }',
    "    print $i; seen[name] = 1",
    "  }",
    '  if (last != "") print "-"',
    '  for (name in owned) if (!(name in seen)) { print "replace: " name; print "-" }',
    '  print ""',
    "}",
)


def _modify_pass() -> tuple[str, str, str]:
    """After the `ldapadd -c` line: the same file's users modified, with the
    connection arguments of that line."""
    program = "\n".join(
        line if i == 0 else r"\g<1>  " + line for i, line in enumerate(USERS_AS_MODIFY_AWK)
    ).replace("\\n", "\\\\n")
    replacement = (
        r"\g<1>ldapadd -c -x \g<2> -f $ldif" + "\n"
        r"\g<1># mboxed: entries that existed get mboxed's attributes (password, names, ...)"
        "\n"
        r"\g<1>awk '" + program + "' $ldif |\n"
        r"\g<1>  ldapmodify -c -x \g<2>"
    )
    pattern = r"(?m)^([ \t]*)ldapadd -c -x (.*) -f \$ldif$(?!\n[ \t]*# mboxed: entries)"
    return (LDAP_SCRIPT_SOURCE, pattern, replacement)


USERS_MODIFY = _modify_pass()

# The bootstrap test no longer ends the script: its `exit 0` becomes the start
# of an `else` around the one-time part, which ends where the users' part begins.
EOS_BOOTSTRAP_ONCE = (
    EOS_SCRIPT_SOURCE,
    r'(?m)^([ \t]*)echo "  ✓ EOS configurations found\. Exiting\."\n[ \t]*exit 0\n'
    r"([ \t]*)fi\n((?:.*\n)*?)([ \t]*)## EOS demo users\n",
    r'\g<1>echo "  ✓ EOS configurations found: only the users are configured (mboxed)."'
    "\n"
    r"\g<2>else"
    "\n"
    r"\g<3>\g<2>fi  # mboxed: end of the one-time part; users are configured on every run"
    "\n\n"
    r"\g<4>## EOS demo users"
    "\n",
)

# In create_eos_homedir, right after its arguments are read: an existing home
# is left as it is, its user allowed again.
EOS_HOME_ONCE = (
    EOS_SCRIPT_SOURCE,
    r"(?m)^([ \t]*)local gid=\$3\n(?![ \t]*# mboxed: an existing home)",
    r"\g<0>"
    r"\g<1># mboxed: an existing home stays as it is; its user is allowed again"
    "\n"
    r"\g<1>if eos stat -d $homedir >/dev/null 2>&1; then"
    "\n"
    r"\g<1>  eos access allow user $uid"
    "\n"
    r"\g<1>  return"
    "\n"
    r"\g<1>fi"
    "\n",
)

SCRIPT_EDITS: tuple[tuple[str, str, str], ...] = (
    LDAPADD_CONTINUE,
    USERS_MODIFY,
    EOS_BOOTSTRAP_ONCE,
    EOS_HOME_ONCE,
)
