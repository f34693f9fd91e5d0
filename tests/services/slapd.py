"""A real OpenLDAP slapd on 127.0.0.1 for tests, configured like the chart's.

The chart runs osixia/openldap with LDAP_RFC2307BIS_SCHEMA=true (sciencebox
values.yaml `ldap.env`), where posixGroup is AUXILIARY so that a group can be
groupOfUniqueNames + posixGroup at once, as the chart's 20_groups.ldif has it.
Debian ships only RFC 2307 nis.ldif (posixGroup STRUCTURAL), so the fixture
loads a copy of it with posixGroup declared as in rfc2307bis
(draft-howard-rfc2307bis-02 §4: `SUP top AUXILIARY MUST gidNumber`). The
ownCloud schema takes its definitions (OIDs, syntaxes) from the chart's
`ldap.customLdifFiles.10_owncloud_schema.ldif`.

The server gets its own cn=config (slapadd -n0), an mdb database for
dc=owncloud,dc=com, a free port, and is stopped and removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
BASE_DN = "dc=owncloud,dc=com"
ADMIN_DN = f"cn=admin,{BASE_DN}"

OWNCLOUD_SCHEMA = """\
dn: cn=owncloud,cn=schema,cn=config
objectClass: olcSchemaConfig
cn: owncloud
olcAttributeTypes: ( 1.3.6.1.4.1.39430.1.1.1 NAME 'ownCloudQuota' DESC 'User Quota (e.g. 2 GB)' EQUALITY caseExactMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
olcAttributeTypes: ( 1.3.6.1.4.1.39430.1.1.2 NAME 'ownCloudUUID' DESC 'A non-reassignable and persistent account ID)' EQUALITY uuidMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.1.16.1 SINGLE-VALUE )
olcObjectClasses: ( 1.3.6.1.4.1.39430.1.2.1 NAME 'ownCloud' DESC 'ownCloud LDAP Schema' AUXILIARY MAY ( ownCloudQuota $ ownCloudUUID ) )
"""  # noqa: E501


def available() -> str | None:
    """None when slapd can run here, else why not."""
    for tool in (SLAPD, SLAPADD, "ldapadd", "ldapwhoami", "ldapsearch"):
        if not (os.path.exists(tool) or shutil.which(tool)):
            return f"{tool} is not installed (Debian: apt-get install slapd ldap-utils)"
    if not (MODULE_DIR / "back_mdb.so").exists() or not (SCHEMA_DIR / "nis.ldif").exists():
        return "slapd's back_mdb module or schema files are missing"
    return None


def _unfold(ldif: str) -> str:
    return re.sub(r"\n ", "", ldif)


def rfc2307bis_from_nis(nis_ldif: str) -> str:
    text = _unfold(nis_ldif)
    changed = re.sub(
        r"(NAME 'posixGroup' DESC '[^']*' SUP top) STRUCTURAL MUST \( cn \$ gidNumber \)",
        r"\1 AUXILIARY MUST gidNumber",
        text,
    )
    if changed == text:
        raise RuntimeError("nis.ldif: posixGroup definition not found where expected")
    return changed.replace("cn: nis", "cn: rfc2307bis").replace("cn=nis,", "cn=rfc2307bis,")


def _config_ldif(root: Path, root_pw_hash: str) -> str:
    schemas = [
        SCHEMA_DIR / "core.ldif",
        SCHEMA_DIR / "cosine.ldif",
        root / "rfc2307bis.ldif",
        SCHEMA_DIR / "inetorgperson.ldif",
        root / "owncloud.ldif",
    ]
    includes = "\n".join(f"include: file://{path}" for path in schemas)
    return f"""\
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {root}/slapd.pid
olcArgsFile: {root}/slapd.args

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: {MODULE_DIR}
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{includes}

dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {BASE_DN}
olcRootDN: {ADMIN_DN}
olcRootPW: {root_pw_hash}
olcDbDirectory: {root}/db
olcDbMaxSize: 67108864
olcAccess: {{0}}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {{1}}to * by * read
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Slapd:
    root: Path
    port: int
    admin_password: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    def ldapadd(self, ldif: str, *, cont: bool = False) -> subprocess.CompletedProcess[str]:
        """`ldapadd` as the chart's seeding script runs it; `cont`: with `-c`,
        as mboxed's post-renderer makes it run (continue past errors)."""
        return subprocess.run(
            ["ldapadd", *(["-c"] if cont else []), "-x", "-H", self.uri,
             "-D", ADMIN_DN, "-w", self.admin_password],
            input=ldif, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    def whoami(self, dn: str, password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ldapwhoami", "-x", "-H", self.uri, "-D", dn, "-w", password],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip

    def search(self, base: str, *filter_attrs: str) -> str:
        result = subprocess.run(
            ["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", self.uri,
             "-D", ADMIN_DN, "-w", self.admin_password, "-b", base, *filter_attrs],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        return result.stdout


@contextlib.contextmanager
def slapd_or_skip(tmp: Path, admin_password: str) -> Iterator[Slapd]:
    """`running_slapd` with `admin_password` for cn=admin, or the test skipped
    (saying why) where slapd cannot run."""
    import pytest

    from mboxed.sciencebox.ldif import ssha

    reason = available()
    if reason:
        pytest.skip(reason)
    with running_slapd(tmp, admin_password, ssha(admin_password)) as server:
        yield server


@contextlib.contextmanager
def running_slapd(tmp: Path, admin_password: str, root_pw_hash: str) -> Iterator[Slapd]:
    """slapd on 127.0.0.1 with the ownCloud schema and dc=owncloud,dc=com."""
    root = tmp / "slapd"
    (root / "slapd.d").mkdir(parents=True)
    (root / "db").mkdir()
    (root / "rfc2307bis.ldif").write_text(
        rfc2307bis_from_nis((SCHEMA_DIR / "nis.ldif").read_text())
    )
    (root / "owncloud.ldif").write_text(OWNCLOUD_SCHEMA)
    (root / "config.ldif").write_text(_config_ldif(root, root_pw_hash))
    subprocess.run(
        [SLAPADD, "-n0", "-F", str(root / "slapd.d"), "-l", str(root / "config.ldif")],
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    server: Slapd | None = None
    for _attempt in range(5):
        port = _free_port()
        log = open(root / "slapd.log", "wb")  # noqa: SIM115 - closed below
        process = subprocess.Popen(
            [SLAPD, "-d", "0", "-F", str(root / "slapd.d"), "-h", f"ldap://127.0.0.1:{port}/"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        candidate = Slapd(root, port, admin_password, process)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                server = candidate
                break
            time.sleep(0.05)
        if server is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=10)
    if server is None:
        raise RuntimeError("slapd did not start:\n" + (root / "slapd.log").read_text()[-2000:])
    try:
        base = (
            f"dn: {BASE_DN}\nobjectClass: top\nobjectClass: dcObject\n"
            "objectClass: organization\no: ownCloud\ndc: owncloud\n"
        )
        added = server.ldapadd(base)
        if added.returncode != 0:
            raise RuntimeError(f"cannot add {BASE_DN}: {added.stderr}")
        yield server
    finally:
        assert server.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)
