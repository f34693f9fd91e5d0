"""The command line as a user meets it: a real `python -m mboxed` process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest

from mboxed import cli
from mboxed.cli import INTERRUPTED
from mboxed.errors import Interrupted, MboxedError
from tests.cli.run import REPO, mboxed, tree


def test_help_lists_every_command() -> None:
    result = mboxed("--help")
    assert result.returncode == 0
    for command in ("up", "plan", "down", "stop", "start", "status", "doctor", "profiles",
                    "users", "values", "verify", "logs"):  # fmt: skip
        assert f"\n  {command} " in result.stdout


@pytest.mark.parametrize("name", ["demo", "minimal", "workshop", "ci"])
def test_profiles_show_prints_the_merged_profile(name: str) -> None:
    result = mboxed("profiles", "show", name)
    assert result.returncode == 0, result.stderr
    assert "provider:" in result.stdout and "sciencebox:" in result.stdout
    assert result.stdout.startswith("# from: ")


def test_profiles_list_names_the_shipped_profiles() -> None:
    result = mboxed("profiles", "list")
    assert [line.split()[0] for line in result.stdout.splitlines()] == [
        "ci", "demo", "minimal", "workshop"
    ]  # fmt: skip


def test_plan_exits_zero_and_changes_nothing(isolated_home: Path) -> None:
    mboxed_home = Path(os.environ["MBOXED_HOME"])
    before = (tree(isolated_home), tree(mboxed_home))
    result = mboxed("plan", "--profile", "demo")
    assert result.returncode == 0, result.stderr
    assert "mboxed plan:" in result.stdout
    assert (tree(isolated_home), tree(mboxed_home)) == before


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["plan", "--set", "provider.cpus=lots"], "provider.cpus"),
        (["plan", "--set", "provider.cpuz=4"], "provider.cpuz: unknown key"),
        (["plan", "--set", "provider.name=nomad"], "'minikube', 'kind' or 'existing'"),
        (["plan", "--profile", "nope"], "unknown profile 'nope'"),
        (["up", "--name", "Bad_Name", "--dry-run"], "--name 'Bad_Name'"),
    ],
)
def test_bad_input_is_one_clear_error_and_no_traceback(args: list[str], needle: str) -> None:
    result = mboxed(*args)
    assert result.returncode == 1
    assert needle in result.stderr
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr + result.stdout


def test_a_corrupt_state_file_is_reported_not_overwritten(isolated_home: Path) -> None:
    state = Path(os.environ["MBOXED_HOME"]) / "state" / "default" / "state.yaml"
    state.parent.mkdir(parents=True)
    state.write_text("{{{ not yaml")
    result = mboxed("status")
    assert result.returncode == 1
    assert f"state file {state} is corrupt" in result.stderr
    assert state.read_text() == "{{{ not yaml"


def test_status_of_a_fresh_deployment() -> None:
    result = mboxed("status")
    assert result.returncode == 0
    assert "nothing yet" in result.stdout


# --- the one error handler: exit codes ----------------------------------------


@click.command()
@click.argument("kind")
def _raiser(kind: str) -> None:
    if kind == "user":
        raise MboxedError("the thing is wrong", hint="do the other thing")
    if kind == "interrupt":
        raise Interrupted(15)
    if kind == "ctrl-c":
        raise KeyboardInterrupt
    if kind == "wrapped-interrupt":
        # SIGTERM while a class is being made (an import at start-up): Python
        # wraps what __set_name__ raised in a RuntimeError
        raise RuntimeError("Error calling __set_name__") from Interrupted(15)
    if kind == "wrapped-ctrl-c":
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise ValueError("while handling it") from None
    raise ZeroDivisionError("a bug")


@pytest.fixture
def raiser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(cli.COMMANDS, "raise", ("tests.cli.test_main:_raiser", "test only"))


@pytest.mark.parametrize(
    ("kind", "code", "needle"),
    [
        ("user", 1, "error: the thing is wrong\nhint: do the other thing"),
        ("interrupt", 143, "interrupted: the state was saved"),  # Interrupted(15): SIGTERM
        ("ctrl-c", 130, "interrupted: the state was saved"),
        ("wrapped-interrupt", 143, "interrupted: the state was saved"),
        ("wrapped-ctrl-c", 130, "interrupted: the state was saved"),
        ("bug", 3, "mboxed hit a bug"),
    ],
)
def test_errors_map_to_exit_codes(
    raiser: None, capsys: pytest.CaptureFixture[str], kind: str, code: int, needle: str
) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["raise", kind])
    assert info.value.code == code
    err = capsys.readouterr().err
    assert needle in err
    if kind == "bug":
        crash = Path(os.environ["MBOXED_HOME"]) / "state" / "crash.log"
        assert "ZeroDivisionError: a bug" in crash.read_text()
        assert str(crash) in err


def test_hints_name_the_deployment() -> None:
    result = mboxed("up", "--name", "lab", "--only", "tls", "--yes")  # hostname auto: no cluster
    assert result.returncode == 1
    assert "hint: run `mboxed up --name lab` (or add --only cluster)" in result.stderr
    log = Path(os.environ["MBOXED_HOME"]) / "state" / "lab" / "mboxed.log"
    assert result.stderr.rstrip().endswith(f"log: {log}")


def test_an_error_names_the_log_of_its_own_run_only(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["up", "--name", "lab", "--only", "tls", "--yes"])
    assert "log: " in capsys.readouterr().err
    with pytest.raises(SystemExit):  # fails before it opens a log: none to name
        cli.main(["plan", "--profile", "nope"])
    err = capsys.readouterr().err
    assert "unknown profile 'nope'" in err and "log: " not in err


def test_sigterm_outside_the_steps_exits_143_with_one_line(tmp_path: Path) -> None:
    """Blocked writing to a FIFO nobody reads: after the last step of any run,
    where the engine's own handler is no longer installed."""
    assert mboxed("up", "--only", "users", "--yes").returncode == 0
    fifo = tmp_path / "cards.fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mboxed", "users", "export", "-o", str(fifo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    wchan = Path(f"/proc/{proc.pid}/wchan")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if wchan.exists() and wchan.read_text() == "wait_for_partner":  # in open(fifo)
            break
        time.sleep(0.05)
    else:
        assert proc.poll() is None, proc.communicate()
        proc.kill()
        pytest.skip("could not see the process block on the FIFO")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert err == INTERRUPTED + "\n"


@pytest.mark.parametrize("args", [["--help"], ["profiles", "list"], ["status"]])
def test_output_that_cannot_be_written_is_one_error_line(args: list[str]) -> None:
    with open("/dev/full", "w") as full:  # every write: ENOSPC, as on a full disk
        result = subprocess.run(
            [sys.executable, "-m", "mboxed", *args],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            timeout=60,
        )
    assert result.returncode == 1, result.stderr
    assert result.stderr == "error: cannot write the output: No space left on device\n"


def test_a_terminal_without_the_marks_gets_them_escaped_not_a_crash() -> None:
    result = mboxed("up", "--only", "secrets", "--yes", env={"PYTHONIOENCODING": "ascii"})
    assert result.returncode == 0, result.stderr
    assert "\\u2713 secrets" in result.stdout  # ✓
    assert "Traceback" not in result.stderr


def test_signals_after_the_program_finished_are_ignored_during_python_shutdown() -> None:
    # as the console script runs it: main() with no argv, then Python's exit
    code = (
        "import signal, sys\n"
        "from mboxed.cli import main\n"
        "sys.argv = ['mboxed', 'profiles', 'list']\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        "    print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN,\n"
        "          signal.getsignal(signal.SIGTERM) is signal.SIG_IGN)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "True True"


def test_main_called_in_process_gives_sigterm_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit):
        cli.main(["profiles", "bogus"])
    assert signal.getsignal(signal.SIGTERM) is before
    assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
