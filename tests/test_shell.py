from __future__ import annotations

import logging
from pathlib import Path

import pytest

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
