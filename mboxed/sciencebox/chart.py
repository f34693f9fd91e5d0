"""Pull a Helm chart stored as an OCI artifact into the cache, once.

Speaks the OCI distribution API directly (what `helm pull oci://...` does):
resolve the tag to a manifest, pick the layer holding the chart tgz, download
that blob and check its sha256 digest. Anonymous pulls from Harbor (which
registry.cern.ch runs) answer 401 with a Bearer challenge; we fetch a token
from the realm it names and retry.

Formats:
- OCI distribution spec, "Pulling manifests" / "Pulling blobs"
  (opencontainers/distribution-spec, spec.md) and the token flow of
  distribution/distribution docs/spec/auth/token.md.
- Helm's media types: helm/helm pkg/registry/constants.go
  (ConfigMediaType application/vnd.cncf.helm.config.v1+json,
  ChartLayerMediaType application/vnd.cncf.helm.chart.content.v1.tar+gzip).

The cache is keyed by digest: <cache>/charts/sha256/<hex>.tgz, plus an index
(<cache>/charts/index.json) from "registry/repository:tag" to that digest, so
a second run needs no network at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from mboxed.errors import MboxedError, TransientError
from mboxed.files import sha256_of

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
# Helm < 3.7 pushed this layer type; helm/helm pkg/registry/constants.go
# still accepts it when pulling.
LEGACY_CHART_LAYER = "application/tar+gzip"

TIMEOUT = (10.0, 60.0)  # connect, read
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


@dataclass(frozen=True)
class ChartRef:
    """oci://<registry>/<repository> at a tag (the chart version)."""

    registry: str
    repository: str
    tag: str

    @classmethod
    def parse(cls, url: str, version: str) -> ChartRef:
        if not url.startswith("oci://"):
            raise MboxedError(
                f"sciencebox.chart {url!r} is not an OCI reference",
                hint="use oci://REGISTRY/PATH, e.g. oci://registry.cern.ch/sciencebox/charts/sciencebox",
            )
        rest = url.removeprefix("oci://").strip("/")
        registry, _, repository = rest.partition("/")
        if not registry or not repository or ":" in repository or "@" in repository:
            raise MboxedError(
                f"sciencebox.chart {url!r} is not of the form oci://REGISTRY/PATH",
                hint="give the version in sciencebox.version, not in the reference",
            )
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}", version.replace("+", "_")):
            raise MboxedError(
                f"sciencebox.version {version!r} is not a valid chart version / OCI tag"
            )
        # OCI tags cannot hold '+': helm pushes semver build metadata as '_'
        # (helm/helm pkg/registry/client.go, "+ is not a valid tag character").
        return cls(registry, repository.lower(), version.replace("+", "_"))

    @property
    def key(self) -> str:
        return f"{self.registry}/{self.repository}:{self.tag}"

    @property
    def url(self) -> str:
        return f"oci://{self.registry}/{self.repository}"

    def base_url(self, mirror: str | None = None) -> str:
        """Where to speak the registry API: the mirror (same paths) if one is
        given, plain HTTP for a loopback registry (as Docker treats them),
        HTTPS otherwise."""
        if mirror:
            return mirror.rstrip("/")
        host = self.registry.split(":")[0] if not self.registry.startswith("[") else "[::1]"
        scheme = "http" if host in _LOOPBACK else "https"
        return f"{scheme}://{self.registry}"


@dataclass(frozen=True)
class PulledChart:
    ref: ChartRef
    path: Path
    digest: str  # sha256:<hex> of the chart tgz (the layer)
    manifest_digest: str
    name: str
    version: str
    from_cache: bool

    def as_outputs(self) -> dict[str, Any]:
        return {
            "ref": self.ref.url,
            "version": self.version,
            "path": str(self.path),
            "digest": self.digest,
            "manifest_digest": self.manifest_digest,
            "name": self.name,
        }


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


# --- the registry client ---------------------------------------------------------


class RegistryClient:
    """Just enough of the OCI distribution API to pull one artifact."""

    def __init__(self, base_url: str, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self._token: str | None = None

    def _request(self, url: str, accept: str | None = None, stream: bool = False) -> Any:
        headers = {"User-Agent": "mboxed"}
        if accept:
            headers["Accept"] = accept
        for attempt in range(2):
            if self._token:
                headers["Authorization"] = f"Bearer {self._token}"
            try:
                response = self.session.get(url, headers=headers, timeout=TIMEOUT, stream=stream)
            except requests.RequestException as exc:
                raise TransientError(
                    f"cannot reach the chart registry at {self.base_url}: {exc}",
                    hint="check the network (or --mirror / MBOXED_MIRROR)",
                ) from exc
            if response.status_code == 401 and attempt == 0:
                self._token = self._fetch_token(response.headers.get("WWW-Authenticate", ""))
                response.close()
                continue
            return response
        return response

    def _fetch_token(self, challenge: str) -> str:
        scheme, params = parse_challenge(challenge)
        if scheme != "bearer" or "realm" not in params:
            raise MboxedError(
                f"the chart registry {self.base_url} asks for credentials "
                f"({challenge or 'no challenge'}); mboxed pulls charts anonymously",
                hint="use a public chart reference, or a --mirror that serves it anonymously",
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
                hint="the chart may not be public; check sciencebox.chart and sciencebox.version",
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

    def manifest(self, ref: ChartRef) -> tuple[dict[str, Any], str]:
        manifest, _, digest = self.manifest_with_body(ref)
        return manifest, digest

    def manifest_with_body(self, ref: ChartRef) -> tuple[dict[str, Any], bytes, str]:
        """The manifest for ref's tag: parsed, its exact bytes, and its digest.

        Only the JSON body counts, not the Content-Type: a static mirror
        (`python3 -m http.server`) serves the manifest file as
        application/octet-stream."""
        url = f"{self.base_url}/v2/{ref.repository}/manifests/{ref.tag}"
        response = self._request(url, accept=OCI_MANIFEST)
        if response.status_code == 404:
            raise MboxedError(
                f"chart {ref.url} has no version {ref.tag} (HTTP 404 from {url})",
                hint="check sciencebox.version against the registry's tags",
            )
        if response.status_code >= 500:
            raise TransientError(f"chart registry error HTTP {response.status_code} from {url}")
        if response.status_code != 200:
            raise MboxedError(f"chart registry answered HTTP {response.status_code} for {url}")
        body = response.content
        digest = response.headers.get("Docker-Content-Digest") or (
            "sha256:" + hashlib.sha256(body).hexdigest()
        )
        try:
            manifest = json.loads(body)
        except ValueError:
            raise MboxedError(f"{url} did not return a JSON manifest") from None
        if not isinstance(manifest, dict):
            raise MboxedError(f"{url} did not return a JSON manifest")
        return manifest, body, digest

    def download_blob(self, ref: ChartRef, digest: str, dest: Path) -> None:
        """Stream a blob to `dest` (atomically), refusing it unless its sha256
        equals `digest`."""
        algorithm, _, expected = digest.partition(":")
        if algorithm != "sha256" or not re.fullmatch(r"[0-9a-f]{64}", expected):
            raise MboxedError(f"chart layer digest {digest!r} is not a sha256 digest")
        url = f"{self.base_url}/v2/{ref.repository}/blobs/{digest}"
        response = self._request(url, stream=True)
        if response.status_code >= 500:
            raise TransientError(f"chart registry error HTTP {response.status_code} from {url}")
        if response.status_code != 200:
            raise MboxedError(f"chart registry answered HTTP {response.status_code} for {url}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in response.iter_content(1 << 16):
                    hasher.update(chunk)
                    out.write(chunk)
            got = hasher.hexdigest()
            if got != expected:
                raise MboxedError(
                    f"chart {ref.url}:{ref.tag} from {self.base_url}: downloaded layer has "
                    f"sha256 {got}, but the manifest says {expected}; refused",
                    hint="the registry or mirror serves corrupt data; nothing was cached",
                )
            os.replace(tmp, dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def chart_layer(manifest: Mapping[str, Any], where: str) -> dict[str, Any]:
    layers = manifest.get("layers") or []
    for wanted in (HELM_CHART_LAYER, LEGACY_CHART_LAYER):
        for layer in layers:
            if isinstance(layer, dict) and layer.get("mediaType") == wanted:
                return layer
    kinds = ", ".join(str(layer.get("mediaType")) for layer in layers if isinstance(layer, dict))
    raise MboxedError(
        f"{where} is not a Helm chart: no layer of type {HELM_CHART_LAYER} "
        f"(layers: {kinds or 'none'})",
        hint="check sciencebox.chart: it must name a chart pushed with `helm push`",
    )


def chart_metadata(tgz: Path) -> dict[str, Any]:
    """Chart.yaml of a packaged chart (the top directory's, not a subchart's)."""
    try:
        with tarfile.open(tgz, "r:gz") as tar:
            for member in tar:
                parts = member.name.split("/")
                if len(parts) == 2 and parts[1] == "Chart.yaml" and member.isfile():
                    handle = tar.extractfile(member)
                    if handle is None:
                        break
                    data = yaml.safe_load(io.TextIOWrapper(handle, encoding="utf-8"))
                    return data if isinstance(data, dict) else {}
    except (tarfile.TarError, OSError, yaml.YAMLError) as exc:
        raise MboxedError(f"{tgz} is not a packaged Helm chart: {exc}") from exc
    raise MboxedError(f"{tgz} is not a packaged Helm chart: no <name>/Chart.yaml inside")


# --- the cache --------------------------------------------------------------------


class ChartCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def index_path(self) -> Path:
        return self.root / "index.json"

    def blob_path(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        return self.root / algorithm / f"{hexdigest}.tgz"

    def _index(self) -> dict[str, Any]:
        try:
            data = json.loads(self.index_path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def lookup(self, ref: ChartRef) -> PulledChart | None:
        """The cached chart for ref, if its file is there and still matches
        its digest (a truncated or edited file is not trusted)."""
        entry = self._index().get(ref.key)
        if not isinstance(entry, dict) or "digest" not in entry:
            return None
        path = self.blob_path(str(entry["digest"]))
        if not path.is_file() or sha256_of(path) != str(entry["digest"]).partition(":")[2]:
            return None
        return PulledChart(
            ref=ref,
            path=path,
            digest=str(entry["digest"]),
            manifest_digest=str(entry.get("manifest_digest", "")),
            name=str(entry.get("name", "")),
            version=str(entry.get("version", ref.tag)),
            from_cache=True,
        )

    def remember(self, chart: PulledChart) -> None:
        index = self._index()
        index[chart.ref.key] = {
            "digest": chart.digest,
            "manifest_digest": chart.manifest_digest,
            "name": chart.name,
            "version": chart.version,
        }
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".index-")
        with os.fdopen(fd, "w") as out:
            json.dump(index, out, indent=2, sort_keys=True)
        os.replace(tmp, self.index_path)


def pull_chart(
    ref: ChartRef,
    cache_root: Path,
    *,
    mirror: str | None = None,
    session: requests.Session | None = None,
) -> PulledChart:
    """The chart tgz for ref: from the cache if there, else pulled, verified
    and cached."""
    cache = ChartCache(cache_root)
    cached = cache.lookup(ref)
    if cached is not None:
        return cached
    client = RegistryClient(ref.base_url(mirror), session)
    where = f"{ref.url}:{ref.tag} (from {client.base_url})"
    manifest, manifest_digest = client.manifest(ref)
    layer = chart_layer(manifest, where)
    digest = str(layer.get("digest", ""))
    dest = cache.blob_path(digest) if ":" in digest else cache.root / "invalid"
    client.download_blob(ref, digest, dest)
    meta = chart_metadata(dest)
    name, version = str(meta.get("name", "")), str(meta.get("version", ""))
    if version and version.replace("+", "_") != ref.tag:
        dest.unlink(missing_ok=True)
        raise MboxedError(
            f"{where}: the chart inside says version {version}, not {ref.tag}; refused"
        )
    pulled = PulledChart(ref, dest, digest, manifest_digest, name, version or ref.tag, False)
    cache.remember(pulled)
    return pulled
