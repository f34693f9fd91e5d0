"""The sums kept beside the download cache, upstream URL -> sha256: the
published (not pinned) sums a download matched once, so that the cached file
can be used again without the network (`published-sums.json`), and the sums
recorded at the first download of a file no upstream publishes a sha256 for
(`recorded-sums.json`: cernbox-web's web assets; minikube's preload is
checked against upstream's MD5 and its sha256 kept with the published ones).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

PUBLISHED = "published-sums.json"
RECORDED = "recorded-sums.json"


@dataclass(frozen=True)
class SumsFile:
    path: Path

    def read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def get(self, upstream_url: str) -> str | None:
        return self.read().get(upstream_url)

    def remember(self, upstream_url: str, sha256: str) -> None:
        sums = self.read()
        sums[upstream_url] = sha256
        tmp = self.path.with_suffix(".tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(sums, indent=1, sort_keys=True))
        os.replace(tmp, self.path)
