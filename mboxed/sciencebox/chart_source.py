"""Where the ScienceBox chart comes from: the OCI registry (pulled once into
the cache by mboxed.sciencebox.chart), or a local chart given as
`sciencebox.chart` — a chart directory (with Chart.yaml) or a packaged .tgz,
e.g. an instructor's fork or an air-gapped copy. A local chart is used as is:
no pull, no digest check against a registry. Its digest is still computed
(of the .tgz, or of the directory's files) and recorded, so the outputs say
which chart an install used, and an edited chart of the same version is
upgraded (the release plan compares the digest the last install used).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mboxed.errors import MboxedError
from mboxed.files import sha256_of
from mboxed.sciencebox.chart import ChartCache, ChartRef, chart_metadata


def is_local(chart: str) -> bool:
    """Profile validation accepts oci://... or an existing path: not OCI = local."""
    return not chart.startswith("oci://")


def cache_dir(cache_root: str | Path) -> Path:
    return Path(cache_root) / "charts"


def directory_digest(root: Path) -> str:
    """sha256 over every file's relative path and bytes, in path order."""
    hasher = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        hasher.update(str(path.relative_to(root)).encode() + b"\0")
        hasher.update(hashlib.sha256(path.read_bytes()).digest())
    return hasher.hexdigest()


@dataclass(frozen=True)
class LocalChart:
    path: Path
    name: str
    version: str
    digest: str  # sha256:<hex>

    @classmethod
    def read(cls, given: str) -> LocalChart:
        path = Path(given).expanduser().resolve()
        if path.is_dir():
            try:
                meta = yaml.safe_load((path / "Chart.yaml").read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                raise MboxedError(
                    f"sciencebox.chart {path}: cannot read its Chart.yaml: {exc}"
                ) from None
            digest = directory_digest(path)
        elif path.is_file():
            meta = chart_metadata(path)
            digest = sha256_of(path)
        else:
            raise MboxedError(
                f"sciencebox.chart {path} is gone",
                hint="point sciencebox.chart at a chart directory or .tgz that exists",
            )
        meta = meta if isinstance(meta, dict) else {}
        return cls(
            path, str(meta.get("name", "")), str(meta.get("version", "")), f"sha256:{digest}"
        )

    def as_outputs(self) -> dict[str, Any]:
        return {
            "ref": str(self.path),
            "version": self.version,
            "path": str(self.path),
            "digest": self.digest,
            "manifest_digest": "",
            "name": self.name,
            "local": True,
        }


def available_chart(chart: str, version: str, cache_root: str | Path) -> dict[str, Any] | None:
    """The chart as the chart step's outputs describe it, without pulling:
    the local chart, or the cached pull of the OCI reference (None if none)."""
    if is_local(chart):
        return LocalChart.read(chart).as_outputs()
    cached = ChartCache(cache_dir(cache_root)).lookup(ChartRef.parse(chart, version))
    return cached.as_outputs() if cached is not None else None
