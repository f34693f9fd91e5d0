"""The engine's rules (DESIGN §2), exercised with toy steps that make real
files and run real subprocesses."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from mboxed.contract import Action, BaseStep, Context, Plan
from mboxed.engine import Pipeline
from mboxed.errors import Deferred, DidNotConverge, LockHeld, MboxedError
from mboxed.state import State
from tests.toy import CommandStep, FileStep, make_context, toy_steps

REPO = Path(__file__).resolve().parent.parent


def fresh(tmp_path: Path, count: int = 6, param: str = "v1") -> tuple[Context, list[Any], Path]:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    ctx = make_context(tmp_path / "home-m", stream=io.StringIO())
    return ctx, toy_steps(work, count, param), work


def reload(ctx: Context) -> Context:
    """A new run: fresh state object read from disk, like a new process."""
    return make_context(ctx.paths.state_root.parent, stream=io.StringIO())


def test_plan_on_fresh_world_lists_actions_and_changes_nothing(tmp_path: Path) -> None:
    ctx, steps, work = fresh(tmp_path)
    ctx.options.dry_run = True
    results = Pipeline(steps).up(ctx)
    assert [r.outcome for r in results] == ["planned"] * 6
    assert all(r.plan and r.plan.actions for r in results)
    assert list(work.iterdir()) == []
    assert not ctx.paths.state_file("default").exists()
    assert not ctx.paths.deployment_dir("default").exists()


def test_apply_converges_then_apply_again_runs_nothing(tmp_path: Path) -> None:
    ctx, steps, work = fresh(tmp_path)
    results = Pipeline(steps).up(ctx)
    assert [r.outcome for r in results] == ["done"] * 6
    assert (work / "s00.txt").read_text() == "s00=v1\n"
    assert (work / "s03.d").is_dir()
    state = State.load(ctx.paths.state_file("default"), "default")
    assert {s["status"] for s in state.data["steps"].values()} == {"done"}
    assert state.outputs("s00") == {"path": str(work / "s00.txt"), "content": "s00=v1\n"}

    ctx2, steps2 = reload(ctx), toy_steps(work, 6)
    again = Pipeline(steps2).up(ctx2)
    assert [r.outcome for r in again] == ["skipped"] * 6
    assert all(r.plan and r.plan.reason for r in again)
    assert sum(s.applied for s in steps2) == 0


def test_state_file_is_0600_and_keeps_a_backup(tmp_path: Path) -> None:
    ctx, steps, _ = fresh(tmp_path, 2)
    Pipeline(steps).up(ctx)
    path = ctx.paths.state_file("default")
    assert path.stat().st_mode & 0o777 == 0o600
    backup = path.with_suffix(".yaml.bak")
    assert backup.exists() and backup.stat().st_mode & 0o777 == 0o600


def test_a_change_made_by_hand_is_noticed_from_facts_not_state(tmp_path: Path) -> None:
    ctx, steps, work = fresh(tmp_path)
    Pipeline(steps).up(ctx)
    (work / "s01.txt").unlink()
    (work / "s02.txt").write_text("edited\n")
    steps2 = toy_steps(work, 6)
    results = Pipeline(steps2).up(reload(ctx))
    assert {r.name: r.outcome for r in results if r.outcome == "done"} == {
        "s01": "done",
        "s02": "done",
    }
    assert (work / "s02.txt").read_text() == "s02=v1\n"


def test_profile_drift_replans_only_the_affected_steps(tmp_path: Path) -> None:
    ctx, steps, work = fresh(tmp_path)
    Pipeline(steps).up(ctx)
    steps2 = toy_steps(work, 6)
    for step in steps2:
        if step.name in ("s01", "s04") and isinstance(step, FileStep):
            step.param = "v2"
    ctx2 = reload(ctx)
    ctx2.options.dry_run = True
    planned = Pipeline(steps2).up(ctx2)
    changed = {r.name: r.note for r in planned if r.outcome == "planned"}
    assert changed == {
        "s01": "inputs changed since the last run",
        "s04": "inputs changed since the last run",
    }
    results = Pipeline(steps2).up(reload(ctx))
    assert [r.name for r in results if r.outcome == "done"] == ["s01", "s04"]
    assert (work / "s04.txt").read_text() == "s04=v2\n"


class NeverConverges(BaseStep):
    name = "stubborn"
    description = "apply does not change what facts read"

    def facts(self, ctx: Context) -> int:
        return 0

    def plan(self, ctx: Context, facts: int) -> Plan:
        return Plan([Action("make the number 1")])

    def apply(self, ctx: Context, plan: Plan) -> None:
        return None


def test_a_step_that_does_not_converge_fails_naming_what_is_left(tmp_path: Path) -> None:
    ctx, _, _ = fresh(tmp_path)
    with pytest.raises(DidNotConverge, match="still to do: make the number 1"):
        Pipeline([NeverConverges()]).up(ctx)
    state = State.load(ctx.paths.state_file("default"), "default")
    assert state.data["steps"]["stubborn"]["status"] == "failed"
    assert state.data["last_run"]["result"] == "failed"


def test_transient_failures_are_retried_with_a_bound(tmp_path: Path) -> None:
    ctx, _, work = fresh(tmp_path)
    flaky = FileStep("flaky", work, flaky=2)
    Pipeline([flaky], retry_wait=0.01).up(ctx)
    assert flaky.applied == 1
    hopeless = FileStep("hopeless", work, flaky=5)
    with pytest.raises(MboxedError, match="flaky failure"):
        Pipeline([hopeless], retry_attempts=3, retry_wait=0.01).up(reload(ctx))
    assert hopeless.flaky == 2  # tried exactly three times, then gave up


class Broken(BaseStep):
    name = "broken"
    description = "fails for good"

    def __init__(self) -> None:
        self.calls = 0

    def facts(self, ctx: Context) -> None:
        return None

    def plan(self, ctx: Context, facts: None) -> Plan:
        return Plan([Action("try")])

    def apply(self, ctx: Context, plan: Plan) -> None:
        self.calls += 1
        raise MboxedError("disk full on /var", hint="free some space")


def test_a_permanent_failure_is_not_retried_and_stops_the_run(tmp_path: Path) -> None:
    ctx, steps, work = fresh(tmp_path, 2)
    broken = Broken()
    with pytest.raises(MboxedError, match="disk full"):
        Pipeline([steps[0], broken, steps[1]], retry_wait=0.01).up(ctx)
    assert broken.calls == 1
    assert not (work / "s01.txt").exists()
    state = State.load(ctx.paths.state_file("default"), "default")
    assert state.data["steps"]["broken"] == state.data["steps"]["broken"] | {
        "status": "failed",
        "error": "disk full on /var",
    }


class NeedsCluster(BaseStep):
    name = "needs-cluster"
    description = "reads something the cluster step makes"

    def facts(self, ctx: Context) -> None:
        raise Deferred("cluster")

    def plan(self, ctx: Context, facts: None) -> Plan:  # pragma: no cover - never reached
        return Plan.nothing("")

    def apply(self, ctx: Context, plan: Plan) -> None:  # pragma: no cover
        return None


def test_dry_run_says_after_which_step_instead_of_guessing(tmp_path: Path) -> None:
    ctx, steps, _ = fresh(tmp_path, 1)
    ctx.options.dry_run = True
    results = Pipeline([steps[0], NeedsCluster()]).up(ctx)
    assert (results[1].outcome, results[1].note) == ("deferred", "after cluster")
    ctx.options.dry_run = False
    with pytest.raises(MboxedError, match="needs cluster first"):
        Pipeline([NeedsCluster()]).up(ctx)


def test_down_reverts_the_journal_newest_first_and_only_that(tmp_path: Path) -> None:
    ctx, steps, work = fresh(tmp_path)
    bystander = work / "not-ours.txt"
    bystander.write_text("keep me")
    Pipeline(steps).up(ctx)
    assert len(list(work.iterdir())) == 7
    results = Pipeline(toy_steps(work, 6)).down(reload(ctx))
    assert [r.name for r in results] == ["s05", "s04", "s03", "s02", "s01", "s00"]
    assert list(work.iterdir()) == [bystander]
    state = State.load(ctx.paths.state_file("default"), "default")
    assert {s["status"] for s in state.data["steps"].values()} == {"undone"}
    assert (state.data["last_run"]["command"], state.data["last_run"]["result"]) == ("down", "ok")
    # down again has nothing left to do
    assert Pipeline(toy_steps(work, 6)).down(reload(ctx)) == []


def test_selecting_unknown_steps_fails_listing_the_real_ones(tmp_path: Path) -> None:
    ctx, steps, _ = fresh(tmp_path, 2)
    with pytest.raises(MboxedError) as info:
        Pipeline(steps).up(ctx, only=["nope"])
    assert "no step named 'nope'" in str(info.value)
    assert "s00, s01" in info.value.hint


def test_only_and_from_select_steps(tmp_path: Path) -> None:
    ctx, steps, work = fresh(tmp_path)
    results = Pipeline(steps).up(ctx, only=["s02"])
    assert [r.name for r in results] == ["s02"]
    results = Pipeline(toy_steps(work, 6)).up(reload(ctx), from_="s04")
    assert [r.name for r in results] == ["s04", "s05"]


# --- real processes: locks, kills, signals -----------------------------------


def spawn(home: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.toy", *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for_status(home: Path, step: str, status: str, timeout: float = 20.0) -> None:
    path = home / "state" / "default" / "state.yaml"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            data = yaml.safe_load(path.read_text()) or {}
            if data.get("steps", {}).get(step, {}).get("status") == status:
                return
        time.sleep(0.05)
    raise AssertionError(f"{step} never reached {status}")


def test_a_second_concurrent_run_is_refused_naming_the_holder(tmp_path: Path) -> None:
    home = tmp_path / "h"
    proc = spawn(home, "up", str(home), "4", "--slow", "s01")
    try:
        wait_for_status(home, "s01", "running")
        ctx = make_context(home, stream=io.StringIO())
        with pytest.raises(LockHeld) as info:
            Pipeline(toy_steps(home / "work", 4)).up(ctx)
        assert f"pid {proc.pid}" in str(info.value)
        with pytest.raises(LockHeld):
            Pipeline(toy_steps(home / "work", 4)).down(ctx)
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("kill_at", ["s00", "s05", "s10"])
def test_sigkill_mid_step_then_rerun_converges_without_corruption(
    tmp_path: Path, kill_at: str
) -> None:
    home = tmp_path / "h"
    proc = spawn(home, "up", str(home), "12", "--slow", kill_at)
    wait_for_status(home, kill_at, "running")
    time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    work = home / "work"
    assert (work / f"{kill_at}.txt").read_text() != f"{kill_at}=v1\n"  # really half-done
    state = State.load(home / "state" / "default" / "state.yaml", "default")
    assert state.data["steps"][kill_at]["status"] == "running"
    # the lock died with the process: a new run takes it and converges
    steps = toy_steps(work, 12)
    results = Pipeline(steps).up(make_context(home, stream=io.StringIO()))
    done = [r.name for r in results if r.outcome == "done"]
    assert done[0] == kill_at
    assert all(r.outcome == "skipped" for r in results[: int(kill_at[1:])])
    for step in steps:
        if isinstance(step, FileStep):
            assert step.path.read_text() == f"{step.name}=v1\n"
        elif isinstance(step, CommandStep):
            assert step.path.is_dir()
    again = Pipeline(toy_steps(work, 12)).up(make_context(home, stream=io.StringIO()))
    assert {r.outcome for r in again} == {"skipped"}


def test_sigterm_marks_the_step_interrupted_and_the_run_resumes(tmp_path: Path) -> None:
    home = tmp_path / "h"
    proc = spawn(home, "up", str(home), "4", "--slow", "s02")
    wait_for_status(home, "s02", "running")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    assert proc.returncode != 0
    state = State.load(home / "state" / "default" / "state.yaml", "default")
    assert state.data["steps"]["s02"]["status"] == "interrupted"
    assert state.data["last_run"]["result"] == "interrupted"
    results = Pipeline(toy_steps(home / "work", 4)).up(make_context(home, stream=io.StringIO()))
    assert [r.outcome for r in results] == ["skipped", "skipped", "done", "done"]


def test_duplicate_step_names_are_a_programming_error() -> None:
    class A(BaseStep):
        name = "a"

        def facts(self, ctx: Context) -> None:
            return None

        def plan(self, ctx: Context, facts: None) -> Plan:
            return Plan.nothing("")

        def apply(self, ctx: Context, plan: Plan) -> Mapping[str, Any] | None:
            return None

    with pytest.raises(ValueError, match="duplicate"):
        Pipeline([A(), A()])


def test_the_engine_runs_commands_only_through_the_shell_seam() -> None:
    offenders = [
        str(path.relative_to(REPO))
        for path in (REPO / "mboxed").rglob("*.py")
        if path.name != "shell.py"
        and any(
            word in path.read_text()
            for word in ("import subprocess", "from subprocess", "os.system(", "os.popen(")
        )
    ]
    assert offenders == []


def test_environment_has_no_real_home(isolated_home: Path) -> None:
    assert os.environ["HOME"] == str(isolated_home)


class WaitsForUser(BaseStep):
    """Blocked until a file appears that only 'the user' can create."""

    name = "needs-user"
    description = "blocked until the user acts"

    def __init__(self, key: Path) -> None:
        self.key = key

    def facts(self, ctx: Context) -> bool:
        return self.key.exists()

    def plan(self, ctx: Context, facts: bool) -> Plan:
        if facts:
            return Plan.nothing("the user did it")
        return Plan.blocked_by("the key is missing", "create it, then run `mboxed up` again")

    def apply(self, ctx: Context, plan: Plan) -> None:  # pragma: no cover - never planned
        raise AssertionError("a blocked step is never applied")


def test_a_blocked_step_stops_up_resumably_and_shows_in_the_plan(tmp_path: Path) -> None:
    ctx, steps, work = fresh(tmp_path, 2)
    key = tmp_path / "key"
    pipeline = Pipeline([steps[0], WaitsForUser(key), steps[1]])
    ctx.options.dry_run = True
    planned = pipeline.up(ctx)
    assert [r.outcome for r in planned] == ["planned", "blocked", "planned"]
    ctx.options.dry_run = False
    with pytest.raises(MboxedError, match="needs-user: the key is missing") as info:
        pipeline.up(ctx)
    assert info.value.hint == "create it, then run `mboxed up` again"
    state = State.load(ctx.paths.state_file("default"), "default")
    assert state.data["steps"]["needs-user"]["status"] == "failed"
    assert not (work / "s01.txt").exists()
    key.write_text("made by the user")
    results = Pipeline([*toy_steps(work, 2)[:1], WaitsForUser(key), *toy_steps(work, 2)[1:]]).up(
        reload(ctx)
    )
    assert [r.outcome for r in results] == ["skipped", "skipped", "done"]


class StartsWork(BaseStep):
    """A step that starts background work and leaves it to a later step."""

    name = "starts"

    def __init__(self, gate: Any) -> None:
        self.gate, self.started = gate, False

    def facts(self, ctx: Context) -> Any:
        return self.started

    def plan(self, ctx: Context, facts: Any) -> Plan:
        return Plan.nothing("started") if facts else Plan([Action("start the work")])

    def apply(self, ctx: Context, plan: Plan) -> Mapping[str, Any] | None:
        def work(key: str, progress: Any) -> Mapping[str, Any]:
            progress(1, 2)
            self.gate.wait(10)
            return {}

        ctx.tasks.start("pulls", {"a": "image a"}, work)
        self.started = True
        return None


def test_a_run_whose_steps_do_not_await_its_background_work_waits_and_says_so(
    tmp_path: Path,
) -> None:
    import threading

    out = io.StringIO()
    ctx = make_context(tmp_path / "home", stream=out)
    gate = threading.Event()
    threading.Timer(0.5, gate.set).start()
    started = time.monotonic()
    Pipeline([StartsWork(gate)], retry_wait=0).up(ctx)
    assert time.monotonic() - started >= 0.5  # the run ended after the work
    assert ctx.tasks.get("pulls").finished
    text = out.getvalue()
    assert "pulls (background)" in text
    assert "waits for it to finish; Ctrl-C stops it" in text
    assert "pulls (background): finished" in text
