"""Per-install secrets for ScienceBox, each in the format its component reads.

The ScienceBox chart 0.0.8 ships fixed passwords and tokens (listed with their
values paths in mboxed/sciencebox/chart_defaults.py). Every one of them is replaced by
a value generated here, once per deployment, and kept in the 0600 state file
(step `secrets`), so re-running `up` reuses them.

Formats:
- hex tokens: 32 random bytes as 64 hex digits (JupyterHub's proxy token,
  cookie secret and JUPYTERHUB_CRYPT_KEY must be 32 bytes, hex-encoded:
  z2jh docs "hub.cookieSecret", "proxy.secretToken").
- passwords: 24 characters from [A-Za-z0-9]: safe unquoted in TOML strings,
  YAML, shell `-w` arguments and URLs, which is where the chart repeats them.
- the EOS sss keytab: one line
  `0 u:daemon g:daemon n:<name>+ N:<19-digit id> c:<unix time> e:0 f:0 k:<64 hex>`
  (the layout of sciencebox/charts sciencebox/files/eos.keytab, read by
  `xrdsssadmin`/XrdSecsss: index, user, group, key name, key id, creation
  time, expiry (0 = never), flags, key as hex).
"""

from __future__ import annotations

import re
import secrets as _random
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PASSWORD_ALPHABET = string.ascii_letters + string.digits
PASSWORD_LENGTH = 24
KEYTAB_NAME = "sciencebox"  # the key name of the chart's own keytab (n:sciencebox+)

KEYTAB_LINE = re.compile(
    r"^0 u:daemon g:daemon n:(?P<name>[A-Za-z0-9_.-]+)\+ N:(?P<id>[1-9][0-9]{18}) "
    r"c:(?P<created>[0-9]+) e:0 f:0 k:(?P<key>[0-9a-f]{64})$"
)


def hex_token(nbytes: int = 32) -> str:
    """`nbytes` random bytes as lowercase hex."""
    return _random.token_hex(nbytes)


def password(length: int = PASSWORD_LENGTH, alphabet: str = PASSWORD_ALPHABET) -> str:
    """A random password drawn with `secrets` (uniform over the alphabet)."""
    if length < 1:
        raise ValueError("a password needs at least one character")
    return "".join(_random.choice(alphabet) for _ in range(length))


def sss_keytab(name: str = KEYTAB_NAME, now: float | None = None) -> str:
    """One EOS sss keytab line with a fresh 256-bit key and a 19-digit key id.

    The id stays below 2**63 (XrdSecsss parses it as a signed 64-bit number).
    """
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"not a keytab key name: {name!r}")
    low, high = 10**18, 9 * 10**18  # 19 digits, below 2**63 - 1
    key_id = low + _random.randbelow(high - low)
    created = int(time.time() if now is None else now)
    return f"0 u:daemon g:daemon n:{name}+ N:{key_id} c:{created} e:0 f:0 k:{hex_token(32)}"


@dataclass(frozen=True)
class SecretSpec:
    """One generated secret: its name in the state, its format, what it is for."""

    name: str
    kind: str  # hex | password | keytab
    purpose: str

    def generate(self) -> str:
        if self.kind == "hex":
            return hex_token(32)
        if self.kind == "password":
            return password()
        if self.kind == "keytab":
            return sss_keytab()
        raise ValueError(f"unknown secret kind {self.kind!r}")


# The names are the keys of the `secrets` step's outputs. Each secret that the
# chart repeats in several places is ONE entry here; values.py writes it into
# every place (and post-render into the places values cannot reach).
SPECS: tuple[SecretSpec, ...] = (
    SecretSpec("ldap_admin_password", "password", "LDAP cn=admin (server and seeding job)"),
    SecretSpec("ldap_config_password", "password", "LDAP cn=config"),
    SecretSpec("ldap_readonly_password", "password", "LDAP cn=readuser (EOS, oCIS, reva bind)"),
    SecretSpec("mariadb_root_password", "password", "MariaDB root (reva share providers)"),
    SecretSpec("mariadb_password", "password", "MariaDB user reva"),
    SecretSpec("jupyterhub_proxy_token", "hex", "JupyterHub proxy.secretToken"),
    SecretSpec("jupyterhub_cookie_secret", "hex", "JupyterHub hub.cookieSecret"),
    SecretSpec("jupyterhub_crypt_key", "hex", "JupyterHub JUPYTERHUB_CRYPT_KEY"),
    SecretSpec("swan_oidc_client_secret", "hex", "OIDC client 'swan' (SWAN and the IdP)"),
    SecretSpec("eos_sss_keytab", "keytab", "EOS sss keytab (EOS, fusex, reva)"),
    SecretSpec("ocis_transfer_secret", "hex", "oCIS/reva transfer secret"),
    SecretSpec("ocis_machine_auth_api_key", "hex", "oCIS/reva machine auth API key"),
    # One JWT secret for oCIS (OCIS_JWT_SECRET) and every revad (jwt_secret):
    # the proxy mints the reva tokens the revad services verify, and oCIS's own
    # embedded reva shares one secret the same way. (The chart ships two
    # different defaults; equal keys can only make more tokens verify.)
    SecretSpec("reva_jwt_secret", "hex", "JWT secret of oCIS and all revad services"),
    SecretSpec("supervisord_password", "password", "supervisord socket in the oCIS pod"),
)

SECRET_NAMES: tuple[str, ...] = tuple(spec.name for spec in SPECS)


def missing(stored: Mapping[str, Any]) -> list[str]:
    """Names of secrets not yet generated (or stored in a broken format)."""
    return [spec.name for spec in SPECS if not is_valid(spec, stored.get(spec.name))]


def is_valid(spec: SecretSpec, value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    if spec.kind == "hex":
        return re.fullmatch(r"[0-9a-f]{64}", value) is not None
    if spec.kind == "password":
        return len(value) >= 16 and all(c in PASSWORD_ALPHABET for c in value)
    if spec.kind == "keytab":
        return KEYTAB_LINE.match(value) is not None
    return False


def complete(stored: Mapping[str, Any]) -> dict[str, str]:
    """Every secret: the stored ones kept, the missing ones generated."""
    out = {name: str(stored[name]) for name in SECRET_NAMES if name in stored}
    for name in missing(stored):
        out[name] = next(spec for spec in SPECS if spec.name == name).generate()
    return out


def secret_values(secrets: Mapping[str, Any]) -> list[str]:
    """The strings never to print or log (for Shell.add_secret and masking)."""
    values = []
    for name in SECRET_NAMES:
        value = secrets.get(name)
        if isinstance(value, str) and value:
            values.append(value)
            match = KEYTAB_LINE.match(value)
            if match:
                values.append(match.group("key"))
    return values
