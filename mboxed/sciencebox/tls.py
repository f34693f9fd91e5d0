"""A local certificate authority, a server certificate for the hostname, and
the host trust stores that make browsers accept it.

The CA and the certificate are made with the `cryptography` library (ECDSA
P-256, SHA-256). The server certificate lives 397 days — Apple platforms refuse
TLS server certificates valid for more than 825 days even from a locally
trusted root (support.apple.com/HT210176), and browsers cap public ones at 398.
It is renewed when fewer than 30 days are left or when the hostname changes.

Trust stores:
- Debian/Ubuntu: /usr/local/share/ca-certificates/<name>.crt + update-ca-certificates
  (ca-certificates(8): only *.crt files there are picked up).
- Fedora/RHEL: /etc/pki/ca-trust/source/anchors/<name>.pem + update-ca-trust
  (update-ca-trust(8)).
- macOS: security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain
  (security(1)).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import platform
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mboxed.files import write_atomic

CA_DAYS = 3650
CERT_DAYS = 397
RENEW_BEFORE_DAYS = 30
SECRET_NAME = "sciencebox-tls"

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
CERT = "cert.pem"
KEY = "key.pem"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class Issued:
    """PEM bytes of a CA or a certificate with its key."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    now: dt.datetime,
    days: int,
    *,
    ca: bool,
) -> x509.CertificateBuilder:
    """What a CA and a server certificate share: names, key, a validity that
    starts 5 minutes back (clock skew), basic constraints and key usage (a CA
    signs certificates, a server certificate signs its handshakes)."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )


def make_ca(common_name: str, now: dt.datetime | None = None) -> Issued:
    now = now or _now()
    key = _key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mboxed"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        _builder(name, name, key, now, CA_DAYS, ca=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def issue(
    ca: Issued,
    hostname: str,
    extra_names: Sequence[str] = (),
    now: dt.datetime | None = None,
) -> Issued:
    """A server certificate for `hostname` (+ `extra_names`: DNS names or IPs)."""
    now = now or _now()
    ca_cert = ca.cert
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = _key()
    sans: list[x509.GeneralName] = []
    for name in [hostname, *extra_names]:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname[:64])])
    cert = (
        _builder(subject, ca_cert.subject, key, now, CERT_DAYS, ca=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


# --- reading what is on disk -------------------------------------------------------


@dataclass
class Material:
    """What the tls directory holds, and what is wrong with it."""

    directory: Path
    ca_ok: bool = False
    cert_ok: bool = False
    problems: list[str] = field(default_factory=list)
    ca_fingerprint: str = ""

    def paths(self) -> dict[str, str]:
        return {
            "ca_cert": str(self.directory / CA_CERT),
            "ca_key": str(self.directory / CA_KEY),
            "cert": str(self.directory / CERT),
            "key": str(self.directory / KEY),
        }


def fingerprint(cert_pem: bytes) -> str:
    cert = x509.load_pem_x509_certificate(cert_pem)
    return cert.fingerprint(hashes.SHA256()).hex()


def cert_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names: list[str] = list(san.get_values_for_type(x509.DNSName))
    names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return names


def inspect(directory: Path, hostname: str, extra_names: Sequence[str] = ()) -> Material:
    """Is there a usable CA, and a certificate from it for exactly these names?"""
    found = Material(directory)
    now = _now()
    try:
        ca = Issued((directory / CA_CERT).read_bytes(), (directory / CA_KEY).read_bytes())
        ca_cert = ca.cert
        ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    except (OSError, ValueError) as exc:
        found.problems.append(f"no usable CA ({type(exc).__name__})")
        return found
    if ca_key.public_key() != ca_cert.public_key():
        found.problems.append("the CA key does not match the CA certificate")
        return found
    if ca_cert.not_valid_after_utc - now < dt.timedelta(days=RENEW_BEFORE_DAYS):
        found.problems.append("the CA expires within 30 days")
        return found
    found.ca_ok = True
    found.ca_fingerprint = ca_cert.fingerprint(hashes.SHA256()).hex()
    try:
        cert = x509.load_pem_x509_certificate((directory / CERT).read_bytes())
        key = serialization.load_pem_private_key((directory / KEY).read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        found.problems.append(f"no usable certificate ({type(exc).__name__})")
        return found
    if cert.issuer != ca_cert.subject:
        found.problems.append("the certificate is not from this CA")
    else:
        try:
            cert.verify_directly_issued_by(ca_cert)
        except (ValueError, TypeError, Exception) as exc:  # InvalidSignature has no base
            found.problems.append(f"the certificate's signature does not verify ({exc!r})")
    if key.public_key() != cert.public_key():
        found.problems.append("the key does not match the certificate")
    wanted = sorted({hostname, *extra_names})
    if sorted(set(cert_names(cert))) != wanted:
        found.problems.append(
            f"the certificate is for {', '.join(cert_names(cert)) or 'no name'}, "
            f"not {', '.join(wanted)}"
        )
    if cert.not_valid_after_utc - now < dt.timedelta(days=RENEW_BEFORE_DAYS):
        found.problems.append("the certificate expires within 30 days")
    found.cert_ok = not found.problems
    return found


def write_private(path: Path, data: bytes, mode: int) -> None:
    """Write atomically with `mode`, in a directory only the user can enter."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, data, mode)


# --- host trust stores -----------------------------------------------------------------


@dataclass(frozen=True)
class TrustStore:
    """Where and how this host trusts extra CAs."""

    family: str  # debian | fedora | macos
    anchor: Path  # the file the CA is copied to (Linux), or the keychain (macOS)
    refresh: tuple[str, ...]

    def describe(self) -> str:
        if self.family == "macos":
            return f"the macOS System keychain ({self.anchor})"
        return f"{self.anchor} + {' '.join(self.refresh)}"

    def install_argv(self, ca_pem: Path) -> list[list[str]]:
        """The commands (run as root) that add the CA."""
        if self.family == "macos":
            return [
                [
                    "security",
                    "add-trusted-cert",
                    "-d",
                    "-r",
                    "trustRoot",
                    "-k",
                    str(self.anchor),
                    str(ca_pem),
                ],
            ]
        return [
            ["install", "-D", "-m", "0644", str(ca_pem), str(self.anchor)],
            list(self.refresh),
        ]

    def undo_argv(self, ca_pem_copy: Path, sha1: str) -> list[str]:
        """One command (run as root) that removes what install_argv added."""
        if self.family == "macos":
            script = (
                f"security remove-trusted-cert -d {shlex.quote(str(ca_pem_copy))} || true; "
                f"security delete-certificate -Z {sha1} {shlex.quote(str(self.anchor))} || true"
            )
        else:
            refresh = " ".join(shlex.quote(a) for a in self.refresh)
            if self.family == "debian":
                # without --fresh, update-ca-certificates leaves the removed
                # CA's symlinks (name and hash) dangling in /etc/ssl/certs
                refresh += " --fresh"
            script = f"rm -f {shlex.quote(str(self.anchor))} && {refresh}"
        return ["sh", "-c", script]


def trust_store(
    deployment: str, system: str | None = None, root: Path = Path("/")
) -> TrustStore | None:
    """The trust store of this host, or None when mboxed does not know it."""
    system = system or platform.system()
    label = f"mboxed-{deployment}"
    if system == "Darwin":
        return TrustStore("macos", Path("/Library/Keychains/System.keychain"), ())
    debian = root / "usr/local/share/ca-certificates"
    fedora = root / "etc/pki/ca-trust/source/anchors"
    if (root / "usr/sbin/update-ca-certificates").exists() or debian.is_dir():
        return TrustStore("debian", debian / f"{label}.crt", ("update-ca-certificates",))
    if (root / "usr/bin/update-ca-trust").exists() or fedora.is_dir():
        return TrustStore("fedora", fedora / f"{label}.pem", ("update-ca-trust", "extract"))
    return None


def sha1_fingerprint(cert_pem: bytes) -> str:
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    return hashlib.sha1(der).hexdigest().upper()
