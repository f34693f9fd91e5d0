"""Secrets: formats each component reads, generated fresh, kept when stored."""

from __future__ import annotations

import re
import time

from mboxed.sciencebox import secrets as sb


def test_hex_tokens_are_32_random_bytes() -> None:
    tokens = {sb.hex_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(re.fullmatch(r"[0-9a-f]{64}", t) for t in tokens)


def test_passwords_are_alphanumeric_and_distinct() -> None:
    passwords = {sb.password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(len(p) == sb.PASSWORD_LENGTH and p.isalnum() and p.isascii() for p in passwords)


def test_keytab_line_has_the_eos_sss_layout() -> None:
    before = int(time.time())
    line = sb.sss_keytab()
    match = sb.KEYTAB_LINE.match(line)
    assert match, line
    assert match.group("name") == "sciencebox"
    assert len(match.group("id")) == 19 and int(match.group("id")) < 2**63
    assert before <= int(match.group("created")) <= int(time.time())
    # same layout as the chart's files/eos.keytab (a fact, not its key)
    chart_shape = re.sub(r"N:\d+|c:\d+|k:[0-9a-f]+", "", line)
    assert chart_shape == "0 u:daemon g:daemon n:sciencebox+   e:0 f:0 "
    assert sb.sss_keytab() != line


def test_complete_generates_every_secret_in_its_format() -> None:
    made = sb.complete({})
    assert set(made) == set(sb.SECRET_NAMES)
    assert sb.missing(made) == []
    assert len(set(made.values())) == len(made)  # no two secrets alike


def test_complete_keeps_stored_secrets_and_fills_the_gaps() -> None:
    first = sb.complete({})
    partial = {k: v for k, v in first.items() if k != "jupyterhub_crypt_key"}
    second = sb.complete(partial)
    assert {k: second[k] for k in partial} == partial
    assert second["jupyterhub_crypt_key"] != first["jupyterhub_crypt_key"]


def test_a_stored_secret_in_a_broken_format_is_regenerated() -> None:
    stored = sb.complete({})
    stored["eos_sss_keytab"] = "0 u:daemon garbage"
    stored["ldap_admin_password"] = "admin"
    assert sorted(sb.missing(stored)) == ["eos_sss_keytab", "ldap_admin_password"]
    fixed = sb.complete(stored)
    assert sb.KEYTAB_LINE.match(fixed["eos_sss_keytab"])
    assert fixed["ldap_admin_password"] != "admin"


def test_secret_values_include_the_bare_keytab_key() -> None:
    made = sb.complete({})
    values = sb.secret_values(made)
    key = sb.KEYTAB_LINE.match(made["eos_sss_keytab"])
    assert key is not None and key.group("key") in values
    assert all(v in values for v in made.values())
