"""A real OCI registry (Debian's `docker-registry`, distribution 2.8) on
127.0.0.1, optionally behind real token auth, and a pusher that stores a Helm
chart in it the way `helm push` does.

Token auth is distribution's own (docs/spec/auth/token.md, configuration
`auth.token`): the registry answers 401 with
`WWW-Authenticate: Bearer realm=...,service=...,scope=...`, and accepts only
JWTs signed by a key whose certificate chains to `rootcertbundle`. The token
server here is a small stdlib HTTP server that issues such JWTs (RS256, the
signing certificate in the `x5c` header), like Harbor's token service does for
anonymous pulls of public projects.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from tests.services.daemon import running

REGISTRY_BIN = shutil.which("docker-registry") or shutil.which("registry")
SERVICE = "mboxed-test-registry"
ISSUER = "mboxed-test-token-issuer"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- token service -----------------------------------------------------------------


def _make_signing_pki(
    directory: Path,
) -> tuple[rsa.RSAPrivateKey, x509.Certificate, Path]:
    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test token root")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test token signer")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    bundle = directory / "token-root.pem"
    bundle.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, bundle


@dataclass
class TokenServer:
    """Issues registry JWTs. `requests` records every token request's query."""

    directory: Path
    grant: tuple[str, ...] = ("pull", "push")
    requests: list[dict[str, list[str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.key, self.cert, self.rootcertbundle = _make_signing_pki(self.directory)
        self.port = free_port()
        self.realm = f"http://127.0.0.1:{self.port}/token"
        self._server: ThreadingHTTPServer | None = None

    def issue(self, scope: str, service: str) -> str:
        header = {
            "typ": "JWT",
            "alg": "RS256",
            "x5c": [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()],
        }
        access = []
        if scope:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            allowed = [a for a in actions.split(",") if a in self.grant]
            access.append({"type": kind, "name": name, "actions": allowed})
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": "",
            "aud": service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64url(signature)

    def __enter__(self) -> TokenServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != "/token":
                    self.send_error(404)
                    return
                query = parse_qs(parts.query)
                owner.requests.append(query)
                token = owner.issue(query.get("scope", [""])[0], query.get("service", [""])[0])
                body = json.dumps({"token": token, "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


# --- the registry --------------------------------------------------------------------


def helm_chart_manifest(
    name: str, tag: str, tgz: bytes, *, layer_type: str | None = None
) -> tuple[bytes, dict[str, Any]]:
    """The config blob and the OCI manifest `helm push` stores for a chart
    (helm/helm pkg/registry/client.go Push: config blob, one chart layer)."""
    config = json.dumps({"name": name, "version": tag, "apiVersion": "v2"}).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.cncf.helm.config.v1+json",
            "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": layer_type or "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                "digest": "sha256:" + hashlib.sha256(tgz).hexdigest(),
                "size": len(tgz),
            }
        ],
    }
    return config, manifest


@dataclass
class Registry:
    url: str
    storage: Path
    token: TokenServer | None

    def blob_file(self, digest: str) -> Path:
        """Where distribution's filesystem driver keeps a blob's bytes."""
        hexdigest = digest.partition(":")[2]
        return self.storage / "docker/registry/v2/blobs/sha256" / hexdigest[:2] / hexdigest / "data"

    def _auth(self, session: requests.Session, repository: str) -> None:
        if self.token is not None:
            token = self.token.issue(f"repository:{repository}:pull,push", SERVICE)
            session.headers["Authorization"] = f"Bearer {token}"

    def push_blob(self, session: requests.Session, repository: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        started = session.post(f"{self.url}/v2/{repository}/blobs/uploads/", timeout=10)
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
        if location.startswith("/"):
            location = self.url + location
        sep = "&" if "?" in location else "?"
        done = session.put(
            f"{location}{sep}digest={digest}",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=10,
        )
        assert done.status_code == 201, done.text
        return digest

    def push_chart(
        self, repository: str, tag: str, tgz: bytes, *, layer_type: str | None = None
    ) -> dict[str, Any]:
        """What `helm push` stores (helm/helm pkg/registry/client.go Push): a
        config blob with the chart metadata, one chart layer, an OCI manifest."""
        session = requests.Session()
        self._auth(session, repository)
        name = repository.rsplit("/", 1)[-1]
        config, manifest = helm_chart_manifest(name, tag, tgz, layer_type=layer_type)
        self.push_blob(session, repository, config)
        layer_digest = self.push_blob(session, repository, tgz)
        body = json.dumps(manifest).encode()
        put = session.put(
            f"{self.url}/v2/{repository}/manifests/{tag}",
            data=body,
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
            timeout=10,
        )
        assert put.status_code == 201, put.text
        return {"manifest": manifest, "layer_digest": layer_digest}


@contextlib.contextmanager
def running_registry(directory: Path, *, token_auth: bool) -> Iterator[Registry]:
    if REGISTRY_BIN is None:
        raise RuntimeError("docker-registry is not installed (Debian package docker-registry)")
    directory.mkdir(parents=True, exist_ok=True)
    storage = directory / "storage"
    port = free_port()
    with contextlib.ExitStack() as stack:
        token = stack.enter_context(TokenServer(directory)) if token_auth else None
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(storage)}},
            "http": {"addr": f"127.0.0.1:{port}", "secret": uuid.uuid4().hex},
        }
        if token is not None:
            config["auth"] = {
                "token": {
                    "realm": token.realm,
                    "service": SERVICE,
                    "issuer": ISSUER,
                    "rootcertbundle": str(token.rootcertbundle),
                }
            }
        config_path = directory / "config.yml"
        config_path.write_text(json.dumps(config))  # JSON is YAML
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return requests.get(f"{url}/v2/", timeout=1).status_code in (200, 401)
            except requests.ConnectionError:
                return False

        argv = [REGISTRY_BIN, "serve", str(config_path)]
        env = {"PATH": os.environ.get("PATH", "")}
        stack.enter_context(running(argv, directory / "registry.log", ready, timeout=20, env=env))
        yield Registry(url, storage, token)


def chart_tgz(name: str, version: str, extra: dict[str, str] | None = None) -> bytes:
    """A small but real packaged Helm chart (what `helm package` writes)."""
    files = {
        f"{name}/Chart.yaml": f"apiVersion: v2\nname: {name}\nversion: {version}\n"
        "type: application\ndescription: a test chart\n",
        f"{name}/values.yaml": "replicaCount: 1\n",
        f"{name}/templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\n"
        "metadata:\n  name: {{ .Release.Name }}-test\ndata:\n  hello: world\n",
        **(extra or {}),
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)
