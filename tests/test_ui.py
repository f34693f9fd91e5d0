from __future__ import annotations

import io

from rich.console import Console

from mboxed.contract import Action, Plan
from mboxed.errors import MboxedError
from mboxed.ui import LiveReporter, PlainReporter, make_reporter


def drive(reporter: PlainReporter) -> None:
    reporter.run_started("up", ["docker", "cluster", "users"])
    reporter.step_started("docker", None)
    reporter.step_skipped("docker", "Docker 28.2 running", 0.2)
    reporter.step_started("cluster", 95.0)
    reporter.step_progress("cluster", "waiting for nodes")
    reporter.step_done("cluster", Plan([Action("create cluster"), Action("enable ingress")]), 80.5)
    reporter.step_started("users", 1.0)
    reporter.step_failed(
        "users", MboxedError("roster.csv row 3: 'Bad Name' is not a user name"), 0.1
    )
    reporter.run_finished(False)


def test_plain_lines_mark_each_outcome_with_elapsed_time() -> None:
    out = io.StringIO()
    drive(PlainReporter(out))
    lines = out.getvalue().splitlines()
    assert lines[0] == "mboxed up: 3 step(s): docker, cluster, users"
    assert "  ↷ docker: Docker 28.2 running (0.2s)" in lines
    assert "  … cluster (last time 1m35s)" in lines
    assert "    cluster: waiting for nodes" in lines
    assert "  ✓ cluster: 2 action(s) (1m20s)" in lines
    assert "  ✗ users: roster.csv row 3: 'Bad Name' is not a user name (0.1s)" in lines


def test_ctrl_c_is_worded_for_a_user_not_as_a_python_class() -> None:
    out = io.StringIO()
    PlainReporter(out).step_failed("helm", KeyboardInterrupt(), 3.0)
    assert out.getvalue() == "  ✗ helm: interrupted (Ctrl-C) (3.0s)\n"


def test_plan_lines_list_actions_or_the_reason() -> None:
    out = io.StringIO()
    reporter = PlainReporter(out)
    reporter.step_planned("helm", Plan([Action("install helm v3.16.2")]), "inputs changed")
    reporter.step_planned("docker", Plan.nothing("Docker 28.2 running"), "")
    assert out.getvalue().splitlines() == [
        "  • helm: 1 action(s) [inputs changed]",
        "      - install helm v3.16.2",
        "  ↷ docker: Docker 28.2 running",
    ]


def test_live_view_on_a_terminal_shows_the_same_marks() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=100, no_color=True)
    drive(LiveReporter(console))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "✓ cluster: 2 action(s) (1m20s)" in text
    assert "↷ docker: Docker 28.2 running" in text
    assert "✗ users: roster.csv row 3" in text


def test_a_pipe_gets_plain_lines() -> None:
    assert type(make_reporter(io.StringIO())) is PlainReporter


def test_a_failure_that_names_its_step_names_it_once() -> None:
    out = io.StringIO()
    PlainReporter(out).step_failed("preflight", MboxedError("preflight: cpu: 2 (need 4)"), 0.1)
    assert out.getvalue() == "  ✗ preflight: cpu: 2 (need 4) (0.1s)\n"


def test_background_progress_is_a_line_every_ten_seconds_in_plain_output() -> None:
    out = io.StringIO()
    reporter = PlainReporter(out)
    reporter.task_progress("images", "pulling systemuser 1.2 GB/3.4 GB")
    reporter.task_progress("images", "pulling systemuser 1.3 GB/3.4 GB")  # too soon
    assert out.getvalue() == "    images (background): pulling systemuser 1.2 GB/3.4 GB\n"


def test_background_progress_shows_under_the_running_step_on_a_terminal() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    reporter = LiveReporter(console)
    reporter.step_started("secrets", None)
    reporter.task_progress("images", "pulling systemuser 1.2 GB/3.4 GB, 25 MB/s, 1m28s left")
    assert reporter._status is not None
    shown = str(reporter._status.renderable.text)
    assert "secrets" in shown and "pulling systemuser 1.2 GB/3.4 GB, 25 MB/s" in shown
    reporter.run_finished(True)
