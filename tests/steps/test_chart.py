"""Step `chart` against a real OCI registry (Debian docker-registry) on
127.0.0.1 standing in for registry.cern.ch through --mirror; and with a
local chart, which needs no registry at all."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from mboxed.contract import Options
from mboxed.engine import Pipeline
from mboxed.errors import MboxedError
from mboxed.steps.chart import ChartStep
from tests.sciencebox.registry import REGISTRY_BIN, Registry, chart_tgz, running_registry
from tests.steps.sciencebox_world import make_world

TGZ = chart_tgz("sciencebox", "0.0.8")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    if REGISTRY_BIN is None:
        pytest.skip("docker-registry not installed")
    with running_registry(tmp_path_factory.mktemp("registry"), token_auth=True) as running:
        running.push_chart("sciencebox/charts/sciencebox", "0.0.8", TGZ)
        yield running


def test_three_way_pull_once_then_nothing_even_offline(registry: Registry, tmp_path: Path) -> None:
    world = make_world(tmp_path, options=Options(mirror=registry.url))
    step = ChartStep()

    plan = step.plan(world.ctx, step.facts(world.ctx))
    assert [a.summary for a in plan.actions] == [
        "pull oci://registry.cern.ch/sciencebox/charts/sciencebox:0.0.8 "
        f"from {registry.url} into the cache"
    ]
    assert not (world.ctx.paths.cache_root / "charts").exists()

    assert Pipeline([step], retry_wait=0).up(world.ctx)[0].outcome == "done"
    outputs = world.ctx.outputs("chart")
    digest = "sha256:" + hashlib.sha256(TGZ).hexdigest()
    assert outputs["digest"] == digest
    assert Path(outputs["path"]).read_bytes() == TGZ
    assert Path(outputs["path"]).parent.parent == world.ctx.paths.cache_root / "charts"
    assert (outputs["name"], outputs["version"]) == ("sciencebox", "0.0.8")

    world.ctx.options.mirror = "http://127.0.0.1:9"  # nothing there: any request would fail
    (again,) = Pipeline([step], retry_wait=0).up(world.ctx)
    assert again.outcome == "skipped"
    assert again.plan is not None and "already cached (sha256:" in again.plan.reason
    assert world.ctx.outputs("chart")["digest"] == digest


def test_a_version_the_registry_lacks_fails_clearly(registry: Registry, tmp_path: Path) -> None:
    world = make_world(
        tmp_path, overrides=("sciencebox.version=0.0.9",), options=Options(mirror=registry.url)
    )
    with pytest.raises(MboxedError, match=r"has no version 0\.0\.9"):
        Pipeline([ChartStep()], retry_wait=0).up(world.ctx)
    assert world.ctx.state.step("chart").status == "failed"


@pytest.mark.parametrize("packaged", [False, True], ids=["directory", "tgz"])
def test_a_local_chart_is_used_as_is_without_any_registry(tmp_path: Path, packaged: bool) -> None:
    if packaged:
        chart = tmp_path / "sciencebox-0.0.8.tgz"
        chart.write_bytes(TGZ)
    else:
        chart = tmp_path / "fork"
        (chart / "templates").mkdir(parents=True)
        (chart / "Chart.yaml").write_text("apiVersion: v2\nname: sciencebox\nversion: 0.0.8\n")
    world = make_world(
        tmp_path / "w",
        overrides=(f"sciencebox.chart={chart}",),
        options=Options(mirror="http://127.0.0.1:9"),  # nothing there: a pull would fail
    )
    (result,) = Pipeline([ChartStep()], retry_wait=0).up(world.ctx)
    assert result.outcome == "skipped"
    assert result.plan is not None and result.plan.reason == (
        f"use the local chart {chart} as is (sciencebox 0.0.8; no pull, no digest check)"
    )
    outputs = world.ctx.outputs("chart")
    assert (outputs["path"], outputs["name"], outputs["version"]) == (
        str(chart),
        "sciencebox",
        "0.0.8",
    )
    assert outputs["local"] is True
    assert not (world.ctx.paths.cache_root / "charts").exists()
    if packaged:
        assert outputs["digest"] == "sha256:" + hashlib.sha256(TGZ).hexdigest()
    else:  # an edited chart has another digest
        (chart / "templates" / "cm.yaml").write_text("kind: ConfigMap\n")
        Pipeline([ChartStep()], retry_wait=0).up(world.ctx)
        assert world.ctx.outputs("chart")["digest"] != outputs["digest"]
