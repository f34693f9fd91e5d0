"""The preflight step through the engine: it stops `up` with the failed
checks, --force goes on, a profile the host meets plans nothing, a dry run
probes no network (the checks themselves: tests/test_host_checks.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mboxed.contract import Options
from mboxed.errors import MboxedError
from mboxed.host_checks import Check
from mboxed.steps.preflight import PreflightFacts, PreflightStep, plan_preflight
from tests.file_server import FileServer
from tests.steps.host_world import make_world


def test_plan_probes_no_network(tmp_path: Path) -> None:
    world = make_world(tmp_path, options=Options(dry_run=True))
    facts = PreflightStep().facts(world.ctx)
    assert "network" not in {c.id for c in facts.checks}


def test_plan_stops_on_failures_and_force_goes_on() -> None:
    failed = Check("cpu", "CPUs", "fail", "2", ">= 4 (provider.cpus)", "--set provider.cpus=2")
    warned = Check("cgroup", "cgroup version", "warn", "v1", "cgroup v2")
    facts = PreflightFacts((failed, warned), "linux/amd64", "apt")
    plan = plan_preflight(facts, "demo", force=False)
    assert plan.blocked and plan.empty
    assert (
        plan.reason
        == "this host does not meet the needs of demo: cpu: 2 (need >= 4 (provider.cpus))"
    )
    assert plan.hint == "--set provider.cpus=2 — or `mboxed up --force` to go on anyway"
    forced = plan_preflight(facts, "demo", force=True)
    assert forced.empty and "going on because of --force" in forced.reason
    ok = plan_preflight(PreflightFacts((warned,), "linux/amd64", "apt"), "demo", force=False)
    assert ok.empty and ok.reason == "host meets the needs of demo (1 warning(s): cgroup)"


# --- for real ------------------------------------------------------------------------------


@pytest.fixture
def mirror() -> Any:
    with FileServer() as server:
        yield server


def test_step_stops_up_with_the_failed_checks_and_force_goes_on(
    tmp_path: Path, mirror: FileServer
) -> None:
    world = make_world(
        tmp_path, overrides=("provider.cpus=256",), options=Options(mirror=mirror.url)
    )
    step = PreflightStep()
    dry = world.up(step, dry_run=True)
    assert dry.outcome == "blocked" and dry.plan is not None
    assert dry.plan.reason.startswith("this host does not meet the needs of demo: cpu: ")
    with pytest.raises(MboxedError) as caught:
        world.up(step)
    assert caught.value.message.startswith(
        "preflight: this host does not meet the needs of demo: cpu: "
    )
    assert "--force" in caught.value.hint
    assert world.ctx.state.step("preflight").status == "failed"
    world.ctx.options.force = True
    forced = world.up(step)
    assert forced.outcome == "skipped" and "--force" in forced.plan.reason  # type: ignore[union-attr]


def test_step_three_way_on_a_profile_this_host_meets(tmp_path: Path, mirror: FileServer) -> None:
    world = make_world(
        tmp_path,
        overrides=("provider.cpus=1", "provider.memory=1g", "provider.disk=1g"),
        options=Options(mirror=mirror.url),
    )
    step = PreflightStep()
    planned, applied, again = world.three_way(step)
    if any(c.status == "fail" for c in step.facts(world.ctx).checks):
        pytest.skip("this host fails a check even for the smallest profile")
    assert (planned.outcome, applied.outcome, again.outcome) == ("skipped",) * 3
    assert again.plan is not None and again.plan.reason.startswith("host meets the needs of demo")
    outputs = world.ctx.state.step("preflight").outputs
    assert outputs["platform"] in ("linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64")
    assert outputs["checks"]["memory"] == "ok"
