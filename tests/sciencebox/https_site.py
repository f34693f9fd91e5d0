"""A real HTTPS server on 127.0.0.1 that plays a ScienceBox ingress, with a
certificate from mboxed's own local CA (mboxed.sciencebox.tls).

Like ingress-nginx it routes by Host and answers 404 for unknown hosts. The
IdP logon endpoint behaves as konnect's handleLogon does: it requires the
`Kopano-Konnect-XSRF: 1` header and a same-host Origin/Referer
(secureHandler), takes {"params": [user, password, "1"]}, and answers 200
{"success": true, ...} or 204 No Content.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mboxed.sciencebox.tls import Issued, issue, make_ca

LANDING = (
    b"<!DOCTYPE html><html><head><title> &#9744 Science Box &#9744 || Containerized "
    b"CERNBox, EOS, and SWAN </title></head><body>ScienceBox</body></html>"
)
WEB = b"<!DOCTYPE html><html><head><title>CERNBox</title></head><body></body></html>"


@dataclass
class Site:
    hostname: str
    port: int = 0
    users: dict[str, str] = field(default_factory=lambda: {"einstein": "relativity"})
    issuer: str = ""
    # path -> (status, content-type, body); replaced by tests to break things
    pages: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    accept_any_password: bool = False
    # When set, decides a logon instead of `users` (the end-to-end world asks
    # what the LDAP seeding of the deployed release holds)
    check: Callable[[str, str], bool] | None = None
    sni: list[str | None] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    logons: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        base = f"https://{self.hostname}"
        self.issuer = self.issuer or base
        self.healthy()

    def healthy(self) -> None:
        base = f"https://{self.hostname}"
        discovery = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{base}/signin/v1/identifier/_/authorize",
            "token_endpoint": f"{base}/konnect/v1/token",
            "userinfo_endpoint": f"{base}/konnect/v1/userinfo",
            "jwks_uri": f"{base}/konnect/v1/jwks.json",
        }
        self.pages = {
            "/sciencebox": (301, "text/html", b""),
            "/sciencebox/": (200, "text/html", LANDING),
            "/.well-known/openid-configuration": (
                200,
                "application/json",
                json.dumps(discovery).encode(),
            ),
            "/": (200, "text/html", WEB),
            "/swan/hub/health": (200, "text/plain", b""),
        }


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, ctype: str, body: bytes, extra: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _host_ok(self) -> bool:
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
            site.hosts.append(self.headers.get("Host") or "")
            if host != site.hostname:
                self._send(404, "text/html", b"<html>default backend - 404</html>", {})
                return False
            return True

        def do_GET(self) -> None:
            if not self._host_ok():
                return
            path = urlsplit(self.path).path
            if path not in site.pages:
                self._send(404, "text/plain", b"404 page not found", {})
                return
            status, ctype, body = site.pages[path]
            extra = {"Location": f"https://{site.hostname}{path}/"} if status == 301 else {}
            self._send(status, ctype, body, extra)

        def do_POST(self) -> None:
            if not self._host_ok():
                return
            if urlsplit(self.path).path != "/signin/v1/identifier/_/logon":
                self._send(404, "text/plain", b"404 page not found", {})
                return
            length = int(self.headers.get("Content-Length") or 0)
            request = json.loads(self.rfile.read(length) or b"{}")
            site.logons.append({"headers": dict(self.headers), "body": request})
            origin = self.headers.get("Origin") or self.headers.get("Referer") or ""
            if self.headers.get("Kopano-Konnect-XSRF") != "1" or urlsplit(
                origin
            ).netloc != self.headers.get("Host"):
                self._send(400, "text/plain", b"Bad Request", {})
                return
            params = request.get("params") or []
            user, password = [*params, "", ""][:2]
            if site.check is not None:
                good = site.accept_any_password or site.check(user, password)
            else:
                good = site.accept_any_password or site.users.get(user) == password
            if len(params) < 3 or params[2] != "1" or not good:
                self._send(
                    204, "text/plain", b"", {"Kopano-Konnect-State": request.get("state", "")}
                )
                return
            answer = {"success": True, "state": request.get("state", ""), "hello": None}
            self._send(200, "application/json", json.dumps(answer).encode(), {})

    return Handler


@contextmanager
def https_site(
    directory: Path, hostname: str = "box.example.org", ca: Issued | None = None
) -> Iterator[tuple[Site, Path]]:
    """Serve `Site` over TLS with a certificate for `hostname` issued by `ca`
    (a fresh local CA by default). Yields the site and the CA's PEM path."""
    ca = ca or make_ca("mboxed test CA")
    cert = issue(ca, hostname)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cert.pem").write_bytes(cert.cert_pem)
    (directory / "key.pem").write_bytes(cert.key_pem)
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca.cert_pem)
    site = Site(hostname)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")

    def remember_sni(sock: Any, server_name: str | None, ctx: ssl.SSLContext) -> None:
        site.sni.append(server_name)

    context.sni_callback = remember_sni
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    site.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield site, ca_path
    finally:
        server.shutdown()
        server.server_close()
