"""`mboxed up` as users run it: real `python -m mboxed` processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.run import REPO, mboxed, state_file, tree
from tests.tmpfs import fill, small_tmpfs


def _up(home: Path, step: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mboxed", "up", "--only", step, "--yes"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "MBOXED_HOME": str(home)},
    )


DELAYS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)


def test_two_concurrent_runs_never_lose_each_others_steps(tmp_path: Path) -> None:
    """The second run reads the state only once it holds the lock: it either
    sees the first run's steps, or says the deployment is busy and exits 1.
    A run that exits 0 has its step in the final state, every time."""
    deadline = time.monotonic() + 90
    rounds = both_ran = 0
    while rounds < 20 and time.monotonic() < deadline:
        rounds += 1
        home = tmp_path / f"round{rounds}"
        # the second starts a little later in most rounds (a run takes ~0.3 s
        # here): from the same instant to just after the first's end, so that
        # some rounds overlap only in start-up even on a loaded machine
        procs = {"secrets": _up(home, "secrets")}
        time.sleep(DELAYS[rounds % len(DELAYS)])
        procs["users"] = _up(home, "users")
        outcomes = {step: (proc.wait(60), *proc.communicate()) for step, proc in procs.items()}
        state = home / "state" / "default" / "state.yaml"
        steps = json.loads(state.read_text())["steps"]
        for step, (code, out, err) in outcomes.items():
            assert "Traceback" not in err, err
            if code == 0:
                assert steps.get(step, {}).get("status") == "done", (rounds, step, out, err)
            else:
                assert code == 1 and "is busy: held by" in err, (rounds, step, out, err)
                # as its user would: run it again once the other has finished
                assert _up(home, step).wait(60) == 0
        both_ran += all(code == 0 for code, _, _ in outcomes.values())
        steps = json.loads(state.read_text())["steps"]
        assert {"secrets", "users"} <= steps.keys(), rounds
    # Rounds that overlap only in start-up let both runs go through, the second
    # after the first: the case that lost a step before the lock came first.
    assert both_ran, f"no round in {rounds} had both runs succeed"


def test_a_full_disk_is_one_error_line_and_the_state_stays_the_last_good_one(
    tmp_path: Path,
) -> None:
    with small_tmpfs(tmp_path / "fs", size="1m") as home:
        env = {"MBOXED_HOME": str(home)}
        assert mboxed("up", "--only", "secrets", "--yes", env=env).returncode == 0
        state = home / "state" / "default" / "state.yaml"
        good = state.read_bytes()
        fill(home)
        big = ("up", "--only", "users", "--set", "users.generate.count=2000", "--yes")
        result = mboxed(*big, env=env)
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith(
            f"error: cannot save the state file {state}: No space left on device (ENOSPC)\n"
        )
        assert "Traceback" not in result.stderr + result.stdout
        assert state.read_bytes() == good
        backup = state.with_suffix(".yaml.bak")
        assert not backup.exists() or json.loads(backup.read_text())["schema"] == 1
        assert not [p for p in state.parent.iterdir() if p.name.startswith(".state-")]


def test_a_state_of_the_wrong_shape_is_reported_and_neither_file_rewritten() -> None:
    for _ in range(2):  # the second run leaves a backup
        assert mboxed("up", "--only", "secrets", "--yes").returncode == 0
    path = state_file()
    data = json.loads(path.read_text())
    data["steps"]["users"] = {"status": "done", "outputs": ["einstein"]}
    path.write_text(json.dumps(data))
    backup = path.with_suffix(".yaml.bak")
    before = path.read_bytes(), backup.read_bytes()
    for command in (["up", "--only", "users", "--yes"], ["down"], ["status"], ["users", "list"]):
        result = mboxed(*command)
        assert result.returncode == 1, (command, result.stderr)
        assert result.stderr.startswith(
            f"error: state file {path} is corrupt: steps.users.outputs: "
            "Input should be a valid dictionary (got ['einstein'])\n"
        ), (command, result.stderr)
        assert (path.read_bytes(), backup.read_bytes()) == before


def test_flags_that_select_no_step_say_so_and_write_nothing() -> None:
    result = mboxed("up", "--from", "users", "--only", "secrets", "--yes")
    assert result.returncode == 1
    assert result.stderr.startswith(
        "error: nothing to run: every --only step (secrets) comes before --from users\n"
    )
    assert tree(Path(os.environ["MBOXED_HOME"])) == []


def test_an_empty_profile_is_an_error_not_demo() -> None:
    result = mboxed("up", "--profile", "", "--only", "secrets", "--yes")
    assert result.returncode == 1
    assert result.stderr.startswith("error: --profile is empty\n")
    assert tree(Path(os.environ["MBOXED_HOME"])) == []


def test_a_bundle_that_is_a_named_pipe_is_refused_without_waiting(tmp_path: Path) -> None:
    pipe = tmp_path / "bundle.tar"
    os.mkfifo(pipe)  # no writer: reading it would wait forever
    result = mboxed("up", "--bundle", str(pipe), "--only", "secrets", "--yes")
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"error: the bundle {pipe} is not a regular file\n")
