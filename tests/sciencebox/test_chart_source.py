"""Where the chart comes from without pulling: a local chart, or the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from mboxed.errors import MboxedError
from mboxed.sciencebox.chart_source import LocalChart, available_chart, is_local
from tests.helm import MODEL_CHART
from tests.sciencebox.registry import chart_tgz

OCI = "oci://registry.cern.ch/sciencebox/charts/sciencebox"


def test_a_local_chart_is_read_as_is(tmp_path: Path) -> None:
    model = LocalChart.read(str(MODEL_CHART))
    assert (model.name, model.version) == ("sciencebox", "0.0.8-model")
    assert model.digest.startswith("sha256:") and LocalChart.read(str(MODEL_CHART)) == model
    packaged = tmp_path / "fork.tgz"
    packaged.write_bytes(chart_tgz("sciencebox", "0.0.8-fork"))
    assert available_chart(str(packaged), "0.0.8", tmp_path / "cache") == {
        "ref": str(packaged),
        "version": "0.0.8-fork",
        "path": str(packaged),
        "digest": LocalChart.read(str(packaged)).digest,
        "manifest_digest": "",
        "name": "sciencebox",
        "local": True,
    }
    with pytest.raises(MboxedError, match="is gone"):
        LocalChart.read(str(tmp_path / "gone"))


def test_an_oci_chart_is_available_only_once_cached(tmp_path: Path) -> None:
    assert not is_local(OCI) and is_local("./charts/sciencebox")
    assert available_chart(OCI, "0.0.8", tmp_path) is None
