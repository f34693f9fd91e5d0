"""One client for OCI registries: the chart pull and the image mirror share it.

Speaks the read side of the OCI distribution API (opencontainers/
distribution-spec spec.md, "Pulling manifests", "Pulling blobs"): a manifest
by tag or digest with the Accept types the caller takes, a blob by digest,
streamed to a file and checked against its sha256. Anonymous pulls from Harbor
(registry.cern.ch), Docker Hub and gitlab-registry.cern.ch answer 401 with a
Bearer challenge; we fetch a token from the realm it names for the scope it
names and retry (distribution docs/spec/auth/token.md). Tokens are kept per
repository: a token's scope is one repository, and a mirror run pulls many.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from mboxed.errors import MboxedError, TransientError
from mboxed.files import replacing

TIMEOUT = (10.0, 60.0)  # connect, read
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
# Docker Hub's registry API is not at docker.io (distribution/reference
# normalize.go names docker.io; docker's registry/config.go DefaultV2Registry
# is https://registry-1.docker.io).
API_HOSTS = {"docker.io": "registry-1.docker.io"}
SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")
CHUNK = 1 << 20


def registry_base_url(registry: str) -> str:
    """Where a registry host serves /v2/: plain HTTP on loopback (as Docker
    treats 127.0.0.0/8 and localhost), HTTPS otherwise."""
    host = API_HOSTS.get(registry, registry)
    bare = host if host.startswith("[") else host.split(":")[0]
    scheme = "http" if bare in LOOPBACK or bare.startswith("127.") else "https"
    return f"{scheme}://{host}"


def check_digest(digest: str, what: str) -> str:
    """The hex of a sha256 digest; anything else is refused (mboxed stores
    content by sha256 only)."""
    if not SHA256.match(digest):
        raise MboxedError(f"{what}: digest {digest!r} is not a sha256 digest")
    return digest.partition(":")[2]


# --- the Bearer challenge --------------------------------------------------------

_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """'Bearer realm="https://x/token",service="harbor-registry",scope="a:b:pull"'
    -> ('bearer', {'realm': ..., 'service': ..., 'scope': ...}).

    RFC 7235 auth-params: quoted strings may hold commas; keys are
    case-insensitive."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        match = _PARAM.match(rest, pos)
        if not match or match.end() == pos:
            break
        key, value = match.group(1).lower(), match.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[key] = value
        pos = match.end()
    return scheme.lower(), params


class NotFound(MboxedError):
    """The registry answered 404 for a manifest or blob (`url` says which)."""

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.url = url


@dataclass(frozen=True)
class FetchedManifest:
    body: bytes  # byte for byte: its sha256 is the digest
    digest: str
    media_type: str  # the Content-Type the registry sent ("" if none)
    url: str


class RegistryClient:
    """The read side of the OCI distribution API, anonymous, with Bearer tokens."""

    def __init__(self, base_url: str, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self._tokens: dict[str, str] = {}
        self.bytes_received = 0  # blob bytes, for the room's "fetched from upstream" figure

    def _request(
        self, url: str, repository: str, accept: str | None = None, stream: bool = False
    ) -> Any:
        headers = {"User-Agent": "mboxed"}
        if accept:
            headers["Accept"] = accept
        for attempt in range(2):
            token = self._tokens.get(repository)
            if token:
                headers["Authorization"] = f"Bearer {token}"
            try:
                response = self.session.get(url, headers=headers, timeout=TIMEOUT, stream=stream)
            except requests.RequestException as exc:
                raise TransientError(
                    f"cannot reach the registry at {self.base_url}: {exc}",
                    hint="check the network (or --mirror / MBOXED_MIRROR)",
                ) from exc
            if response.status_code == 401 and attempt == 0:
                challenge = response.headers.get("WWW-Authenticate", "")
                response.close()
                self._tokens[repository] = self._fetch_token(challenge)
                continue
            return response
        return response

    def _fetch_token(self, challenge: str) -> str:
        scheme, params = parse_challenge(challenge)
        if scheme != "bearer" or "realm" not in params:
            raise MboxedError(
                f"the registry {self.base_url} asks for credentials "
                f"({challenge or 'no challenge'}); mboxed pulls anonymously",
                hint="use a public reference, or a --mirror that serves it anonymously",
            )
        query = {k: params[k] for k in ("service", "scope") if k in params}
        try:
            response = self.session.get(
                params["realm"], params=query, timeout=TIMEOUT, headers={"User-Agent": "mboxed"}
            )
        except requests.RequestException as exc:
            raise TransientError(f"cannot reach the registry's token service: {exc}") from exc
        if response.status_code != 200:
            raise MboxedError(
                f"the registry's token service {params['realm']} refused an anonymous "
                f"token for {params.get('scope', '?')}: HTTP {response.status_code}",
                hint="the repository may not be public; check the reference",
            )
        try:
            body = response.json()
        except ValueError:
            body = {}
        # distribution docs/spec/auth/token.md: `token`, with `access_token`
        # as the OAuth2-compatible alias.
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise MboxedError(f"the registry's token service {params['realm']} sent no token")
        return str(token)

    def _check_status(self, response: Any, url: str, what: str) -> None:
        if response.status_code == 404:
            raise NotFound(f"{what}: not found, HTTP 404 for {url}", url)
        if response.status_code >= 500:
            raise TransientError(f"registry error HTTP {response.status_code} from {url}")
        if response.status_code != 200:
            raise MboxedError(
                f"{what}: the registry answered HTTP {response.status_code} for {url}"
            )

    def manifest(self, repository: str, reference: str, accept: str) -> FetchedManifest:
        """A manifest (or index) by tag or digest, its exact bytes and digest.

        Refused when the bytes do not hash to the digest asked for, or to the
        Docker-Content-Digest the registry sent. Only the body counts, not the
        Content-Type: a static mirror serves manifest files as
        application/octet-stream."""
        url = f"{self.base_url}/v2/{repository}/manifests/{reference}"
        what = f"{repository}:{reference}" if ":" not in reference else f"{repository}@{reference}"
        response = self._request(url, repository, accept=accept)
        self._check_status(response, url, what)
        body = response.content
        actual = "sha256:" + hashlib.sha256(body).hexdigest()
        claimed = response.headers.get("Docker-Content-Digest", "")
        for expected in (reference if reference.startswith("sha256:") else "", claimed):
            if expected and expected != actual:
                raise MboxedError(
                    f"{what} from {self.base_url}: the manifest's sha256 is {actual}, "
                    f"not {expected}; refused",
                    hint="the registry or mirror serves corrupt data; nothing was written",
                )
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return FetchedManifest(body, actual, media_type, url)

    def blob_chunks(
        self, repository: str, digest: str, what: str = "", size: int | None = None
    ) -> Iterator[bytes]:
        """A blob's bytes, streamed. The last chunk is held back until the
        whole blob hashes to `digest` (and is `size` bytes, when given): a
        consumer never receives all of a corrupt or truncated blob."""
        what = what or repository
        expected = check_digest(digest, what)
        url = f"{self.base_url}/v2/{repository}/blobs/{digest}"
        response = self._request(url, repository, stream=True)
        self._check_status(response, url, f"{what}: blob {digest}")
        hasher = hashlib.sha256()
        held = b""
        received = 0
        with response:
            for chunk in response.iter_content(CHUNK):
                hasher.update(chunk)
                received += len(chunk)
                self.bytes_received += len(chunk)
                if held:
                    yield held
                held = chunk
        got = hasher.hexdigest()
        if got != expected or (size is not None and received != size):
            raise MboxedError(
                f"{what} from {self.base_url}: downloaded blob {digest} has sha256 {got} "
                f"({received} bytes), but the manifest says {expected}"
                + (f" ({size} bytes)" if size is not None else "")
                + "; refused",
                hint="the registry or mirror serves corrupt data; nothing was kept",
            )
        if held:
            yield held

    def download_blob(self, repository: str, digest: str, dest: Path, what: str = "") -> None:
        """Stream a blob to `dest` (atomically: a temp file beside it, renamed
        once its sha256 equals `digest`)."""
        with replacing(dest, 0o644) as tmp, tmp.open("wb") as out:
            for chunk in self.blob_chunks(repository, digest, what):
                out.write(chunk)
