"""The local CA: a real TLS server on 127.0.0.1 with a certificate we issued,
and clients that trust only our CA (hostname verification on)."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from mboxed.sciencebox import tls as sb

HOST = "box.example.org"


@contextlib.contextmanager
def tls_server(cert: Path, key: Path) -> Iterator[int]:
    """A TLS server on 127.0.0.1 answering each connection with one line."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with contextlib.suppress(OSError, ssl.SSLError):
                conn.settimeout(5)
                with context.wrap_socket(conn, server_side=True) as tls_conn:
                    tls_conn.sendall(b"hello over tls\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def fetch(port: int, server_name: str, context: ssl.SSLContext) -> bytes:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as conn,
    ):
        return conn.recv(100)


@pytest.fixture
def issued(tmp_path: Path) -> Path:
    ca = sb.make_ca("mboxed test CA")
    cert = sb.issue(ca, HOST)
    sb.write_private(tmp_path / sb.CA_CERT, ca.cert_pem, 0o644)
    sb.write_private(tmp_path / sb.CA_KEY, ca.key_pem, 0o600)
    sb.write_private(tmp_path / sb.CERT, cert.cert_pem, 0o644)
    sb.write_private(tmp_path / sb.KEY, cert.key_pem, 0o600)
    return tmp_path


def test_client_trusting_only_our_ca_connects_with_hostname_verification(issued: Path) -> None:
    client = ssl.create_default_context(cafile=str(issued / sb.CA_CERT))
    assert client.check_hostname and client.verify_mode == ssl.CERT_REQUIRED
    with tls_server(issued / sb.CERT, issued / sb.KEY) as port:
        assert fetch(port, HOST, client) == b"hello over tls\n"
        with pytest.raises(ssl.SSLCertVerificationError, match=r"match|mismatch"):
            fetch(port, "other.example.org", client)


def test_client_without_our_ca_refuses_the_certificate(issued: Path) -> None:
    other_ca = sb.make_ca("someone else")
    other = issued / "other-ca.pem"
    other.write_bytes(other_ca.cert_pem)
    client = ssl.create_default_context(cafile=str(other))
    with (
        tls_server(issued / sb.CERT, issued / sb.KEY) as port,
        pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"),
    ):
        fetch(port, HOST, client)


def test_certificate_has_server_auth_sans_and_sane_lifetimes() -> None:
    ca = sb.make_ca("x")
    cert = sb.issue(ca, HOST, ["10.0.0.7"]).cert
    assert sb.cert_names(cert) == [HOST, "10.0.0.7"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in eku
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert life <= dt.timedelta(days=398)  # Apple/browser limits
    ca_cert = ca.cert
    basic = ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca and basic.path_length == 0
    cert.verify_directly_issued_by(ca_cert)


def test_inspect_accepts_good_material_and_names_each_problem(issued: Path) -> None:
    good = sb.inspect(issued, HOST)
    assert good.ca_ok and good.cert_ok and good.problems == []
    other_name = sb.inspect(issued, "elsewhere.example.org")
    assert other_name.ca_ok and not other_name.cert_ok
    assert "not elsewhere.example.org" in other_name.problems[0]
    # a certificate from another CA
    foreign = sb.issue(sb.make_ca("foreign"), HOST)
    (issued / sb.CERT).write_bytes(foreign.cert_pem)
    (issued / sb.KEY).write_bytes(foreign.key_pem)
    assert "not from this CA" in " ".join(sb.inspect(issued, HOST).problems)
    # nearly expired
    ca = sb.Issued((issued / sb.CA_CERT).read_bytes(), (issued / sb.CA_KEY).read_bytes())
    old = sb.issue(ca, HOST, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=380))
    (issued / sb.CERT).write_bytes(old.cert_pem)
    (issued / sb.KEY).write_bytes(old.key_pem)
    assert "expires within 30 days" in " ".join(sb.inspect(issued, HOST).problems)
    (issued / sb.CA_KEY).write_bytes(b"garbage")
    assert not sb.inspect(issued, HOST).ca_ok


def test_keys_are_written_0600(issued: Path) -> None:
    assert (issued / sb.KEY).stat().st_mode & 0o777 == 0o600
    assert (issued / sb.CA_KEY).stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("system", "made", "family", "anchor", "refresh"),
    [
        ("Linux", "usr/local/share/ca-certificates", "debian",
         "usr/local/share/ca-certificates/mboxed-demo.crt", ("update-ca-certificates",)),
        ("Linux", "etc/pki/ca-trust/source/anchors", "fedora",
         "etc/pki/ca-trust/source/anchors/mboxed-demo.pem", ("update-ca-trust", "extract")),
    ],
)  # fmt: skip
def test_trust_store_is_detected_per_distribution(
    tmp_path: Path, system: str, made: str, family: str, anchor: str, refresh: tuple[str, ...]
) -> None:
    (tmp_path / made).mkdir(parents=True)
    store = sb.trust_store("demo", system, tmp_path)
    assert store is not None
    assert (store.family, store.anchor, store.refresh) == (family, tmp_path / anchor, refresh)
    install = store.install_argv(Path("/x/ca.pem"))
    assert install[0] == ["install", "-D", "-m", "0644", "/x/ca.pem", str(tmp_path / anchor)]
    assert install[1] == list(refresh)
    undo = store.undo_argv(Path("/x/ca.pem"), "AB")
    assert undo[:2] == ["sh", "-c"] and str(tmp_path / anchor) in undo[2]
    assert undo[2].endswith(" ".join(refresh) + (" --fresh" if family == "debian" else ""))


def test_trust_store_on_macos_uses_the_system_keychain() -> None:
    store = sb.trust_store("demo", "Darwin")
    assert store is not None and store.family == "macos"
    assert store.install_argv(Path("/x/ca.pem")) == [
        ["security", "add-trusted-cert", "-d", "-r", "trustRoot",
         "-k", "/Library/Keychains/System.keychain", "/x/ca.pem"],
    ]  # fmt: skip
    undo = store.undo_argv(Path("/x/ca.pem"), "ABCDEF")
    assert "security remove-trusted-cert -d /x/ca.pem" in undo[2]
    assert "security delete-certificate -Z ABCDEF /Library/Keychains/System.keychain" in undo[2]


def test_unknown_host_has_no_trust_store(tmp_path: Path) -> None:
    assert sb.trust_store("demo", "Linux", tmp_path) is None
