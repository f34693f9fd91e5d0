"""Pull a Helm chart stored as an OCI artifact into the cache, once.

Speaks the OCI distribution API directly (what `helm pull oci://...` does):
resolve the tag to a manifest, pick the layer holding the chart tgz, download
that blob and check its sha256 digest, through mboxed.registry's client
(shared with the image mirror), which also answers Harbor's Bearer challenge
(registry.cern.ch) for anonymous pulls.

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

import io
import json
import re
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from mboxed.errors import MboxedError
from mboxed.files import sha256_of, write_atomic
from mboxed.registry import NotFound, RegistryClient, check_digest, registry_base_url

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
# Helm < 3.7 pushed this layer type; helm/helm pkg/registry/constants.go
# still accepts it when pulling.
LEGACY_CHART_LAYER = "application/tar+gzip"


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
        return registry_base_url(self.registry)


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


# --- the chart through the shared registry client ---------------------------------


def fetch_chart_manifest(client: RegistryClient, ref: ChartRef) -> FetchedChartManifest:
    """The manifest for ref's tag: parsed, its exact bytes, and its digest
    (checked against the bytes by the client)."""
    try:
        fetched = client.manifest(ref.repository, ref.tag, accept=OCI_MANIFEST)
    except NotFound as exc:
        raise MboxedError(
            f"chart {ref.url} has no version {ref.tag} (HTTP 404 from {exc.url})",
            hint="check sciencebox.version against the registry's tags",
        ) from None
    try:
        manifest = json.loads(fetched.body)
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict):
        raise MboxedError(f"{fetched.url} did not return a JSON manifest")
    return FetchedChartManifest(manifest, fetched.body, fetched.digest)


@dataclass(frozen=True)
class FetchedChartManifest:
    manifest: dict[str, Any]
    body: bytes
    digest: str


def download_chart_blob(client: RegistryClient, ref: ChartRef, digest: str, dest: Path) -> None:
    """A config or layer blob of the chart, verified, put at `dest` atomically."""
    client.download_blob(ref.repository, digest, dest, what=f"chart {ref.url}:{ref.tag}")


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
        write_atomic(self.index_path, json.dumps(index, indent=2, sort_keys=True).encode(), 0o600)


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
    fetched = fetch_chart_manifest(client, ref)
    manifest_digest = fetched.digest
    layer = chart_layer(fetched.manifest, where)
    digest = str(layer.get("digest", ""))
    check_digest(digest, where)
    dest = cache.blob_path(digest)
    download_chart_blob(client, ref, digest, dest)
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
