"""HTTPS to the deployment's ingress, as a browser on this machine reaches it.

Connects to the ingress address (works before DNS or /etc/hosts know the
name) and speaks TLS with SNI and Host = the public hostname, trusting only
the deployment's local CA (or nothing, for `tls: none`).
"""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit


def base_url(hostname: str, https_port: int | None) -> str:
    """https://HOST, with the port only when it is not 443."""
    port = "" if not https_port or int(https_port) == 443 else f":{int(https_port)}"
    return f"https://{hostname}{port}"


@dataclass(frozen=True)
class Ingress:
    hostname: str
    address: str  # where the ingress listens, as seen from this machine
    port: int = 443
    ca_cert: str | None = None  # PEM of the local CA; None: system trust store
    verify: bool = True  # False only for `tls: none` (the ingress's own fake cert)
    timeout: float = 15.0

    @property
    def base(self) -> str:
        return base_url(self.hostname, self.port)


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to `address`, with SNI, certificate name and Host all = `host`."""

    def __init__(
        self, host: str, port: int, address: str, context: ssl.SSLContext, timeout: float
    ) -> None:
        super().__init__(host, port, context=context, timeout=timeout)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def tls_context(target: Ingress) -> ssl.SSLContext:
    if not target.verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=target.ca_cert)


class Client:
    def __init__(self, target: Ingress) -> None:
        self.target = target
        self.context = tls_context(target)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        follow: int = 5,
    ) -> Response:
        """One request; redirects to the same host are followed (`follow` times)."""
        for _ in range(follow + 1):
            conn = _PinnedHTTPS(
                self.target.hostname,
                self.target.port,
                self.target.address,
                self.context,
                self.target.timeout,
            )
            try:
                conn.request(
                    method,
                    path,
                    body=body,
                    headers={"User-Agent": "mboxed-verify", **(headers or {})},
                )
                raw = conn.getresponse()
                response = Response(
                    raw.status, {k.lower(): v for k, v in raw.getheaders()}, raw.read()
                )
            finally:
                conn.close()
            location = response.headers.get("location", "")
            if response.status in (301, 302, 303, 307, 308) and location and method == "GET":
                parts = urlsplit(location)
                if parts.netloc and parts.hostname != self.target.hostname:
                    return response
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                continue
            return response
        return response


def failure(exc: BaseException, target: Ingress) -> tuple[str, str]:
    """(what went wrong, what to do) for a request that raised `exc`."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"TLS certificate not trusted: {exc.verify_message}",
            "the ingress does not serve the certificate of mboxed's CA: re-run `mboxed up "
            "--only tls --only sciencebox`",
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}", "is the ingress serving HTTPS on this port?"
    if isinstance(exc, ConnectionRefusedError):
        return (
            f"connection refused at {target.address}:{target.port}",
            "the ingress controller is not listening: check `mboxed status`",
        )
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"no answer from {target.address}:{target.port}", "is the cluster running?"
    return f"{type(exc).__name__}: {exc}", ""


def no_route(exc: BaseException) -> bool:
    """No connection at all: every later request would wait out the same timeout."""
    return isinstance(exc, ConnectionError | TimeoutError | socket.timeout | socket.gaierror)
