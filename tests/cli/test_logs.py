"""`mboxed logs` as a user runs it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from mboxed.cli import cli
from mboxed.paths import Paths
from tests.cli.run import mboxed


def test_lines_counts_from_the_end_and_refuses_a_negative_count() -> None:
    log = Paths.from_env(os.environ).log_file("default")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("".join(f"line {n}\n" for n in range(1, 6)))
    runner = CliRunner()

    assert runner.invoke(cli, ["logs", "-l", "2"]).output == "line 4\nline 5\n"
    assert runner.invoke(cli, ["logs", "-l", "0"]).output.count("line") == 5

    # -l -2 printed all but the first two lines
    refused = runner.invoke(cli, ["logs", "-l", "-2"])
    assert refused.exit_code == 2
    assert "-2 is not in the range x>=0" in refused.output


@pytest.mark.parametrize("command", [["logs"], ["up", "--only", "secrets", "--yes"]])
@pytest.mark.parametrize("make", [os.mkfifo, os.mkdir], ids=["fifo", "directory"])
def test_a_log_path_that_is_no_regular_file_is_one_error_line(
    command: list[str], make: Callable[[Path], None]
) -> None:
    log = Paths.from_env(os.environ).log_file("default")
    log.parent.mkdir(parents=True)
    make(log)  # a FIFO made `logs` and `up` wait for a writer forever
    result = mboxed(*command)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"error: the log file {log} is not a regular file\n")
    assert "Traceback" not in result.stderr
