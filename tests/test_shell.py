from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from mboxed import shell as shell_module
from mboxed.shell import CommandError, Shell


def test_runs_a_real_command_and_returns_its_output() -> None:
    result = Shell().run(["sh", "-c", "echo out; echo err >&2"])
    assert (result.returncode, result.stdout, result.stderr) == (0, "out\n", "err\n")


def test_failure_raises_with_command_code_and_output_tail() -> None:
    with pytest.raises(CommandError) as info:
        Shell().run(["sh", "-c", "for i in $(seq 1 40); do echo line$i >&2; done; exit 7"])
    error = info.value
    assert error.returncode == 7
    text = str(error)
    assert "exited with code 7" in text and "line40" in text and "line10\n" not in text


def test_check_false_returns_the_failure_instead() -> None:
    result = Shell().run(["false"], check=False)
    assert not result.ok and result.returncode == 1


def test_timeout_is_enforced() -> None:
    with pytest.raises(CommandError, match=r"timed out after 0\.5s"):
        Shell().run(["sleep", "5"], timeout=0.5)


def test_a_missing_command_is_a_clear_error() -> None:
    with pytest.raises(CommandError, match="no-such-tool-xyz: command not found"):
        Shell().run(["no-such-tool-xyz", "--version"])


def test_path_comes_from_the_shell_env(tmp_path: Path) -> None:
    tool = tmp_path / "mytool"
    tool.write_text('#!/bin/sh\necho from-fake "$@"\n')
    tool.chmod(0o755)
    shell = Shell(env={"PATH": f"{tmp_path}:/usr/bin:/bin"})
    assert shell.which("mytool") == tool
    assert shell.run(["mytool", "a"]).stdout == "from-fake a\n"


def test_input_env_and_cwd(tmp_path: Path) -> None:
    result = Shell().run(
        ["sh", "-c", "cat; echo $GREETING; pwd"], input="in\n", env={"GREETING": "hi"}, cwd=tmp_path
    )
    assert result.stdout == f"in\nhi\n{tmp_path}\n"


def test_secrets_never_reach_the_log_or_the_error(caplog: pytest.LogCaptureFixture) -> None:
    shell = Shell()
    shell.add_secret("hunter2-secret")
    caplog.set_level(logging.DEBUG, logger="mboxed.shell")
    with pytest.raises(CommandError) as info:
        shell.run(["sh", "-c", "echo token=hunter2-secret; exit 3", "--password=hunter2-secret"])
    assert "hunter2-secret" not in caplog.text
    assert "hunter2-secret" not in str(info.value)
    assert "***" in caplog.text and "***" in str(info.value)


def test_root_commands_run_directly_as_root() -> None:
    shell = Shell()
    if not shell.is_root():
        pytest.skip("needs root")
    assert shell.run(["id", "-u"], root=True).stdout.strip() == "0"


# A child that writes down each signal it gets (argv[2]), and ends on SIGINT
# (as helm upgrade does: it marks the release failed, then exits) unless told
# to ignore it (argv[1]).
SIGNAL_REPORTER = """
import signal, sys, time
def on(signum, frame):
    with open(sys.argv[2], "a") as log:
        log.write(signal.Signals(signum).name + "\\n")
    print(signal.Signals(signum).name, flush=True)
    if signum == signal.SIGINT and sys.argv[1] == "ends-on-int":
        sys.exit(3)
for signum in (signal.SIGINT, signal.SIGTERM):
    signal.signal(signum, on)
print("started", flush=True)
time.sleep(60)
"""


def reporter(how: str, log: Path) -> list[str]:
    return [sys.executable, "-c", SIGNAL_REPORTER, how, str(log)]


def test_a_gently_stopped_command_gets_sigint_first_on_timeout(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(CommandError) as info:
        Shell().run(reporter("ends-on-int", tmp_path / "log"), timeout=1, stop_grace=10)
    error = info.value
    assert "timed out after 1s; stopped with SIGINT" in str(error)
    assert error.stdout == "started\nSIGINT\n" and error.returncode == 3
    assert time.monotonic() - started < 8  # it ended on SIGINT: no waiting for the grace


def test_a_command_deaf_to_sigint_gets_sigterm_then_sigkill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shell_module, "TERM_GRACE", 0.5)
    with pytest.raises(CommandError) as info:
        Shell().run(reporter("deaf", tmp_path / "log"), timeout=1, stop_grace=0.5)
    assert "killed (SIGKILL)" in str(info.value)
    assert (tmp_path / "log").read_text() == "SIGINT\nSIGTERM\n"
    assert info.value.returncode == -signal.SIGKILL


def test_without_stop_grace_a_timeout_kills_at_once(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="timed out"):
        Shell().run(reporter("ends-on-int", tmp_path / "log"), timeout=1)
    assert not (tmp_path / "log").exists()


def test_mboxed_interrupted_while_a_gentle_command_runs_stops_it_first(tmp_path: Path) -> None:
    """SIGTERM to mboxed (the engine turns it into Interrupted) while the
    command runs: the command gets SIGINT and ends before mboxed goes on."""
    from mboxed.errors import Interrupted

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGTERM, interrupt)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        with pytest.raises(Interrupted):
            Shell().run(reporter("ends-on-int", tmp_path / "log"), timeout=30, stop_grace=10)
    finally:
        timer.cancel()
        signal.signal(signal.SIGTERM, previous)
    assert (tmp_path / "log").read_text() == "SIGINT\n"  # stopped, not orphaned
