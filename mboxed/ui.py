"""Progress output: a live step list on a TTY, plain lines otherwise.

Both speak the engine's Reporter protocol. Full detail goes to the log file;
the screen shows one line per step.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

from mboxed.contract import Plan

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

MARKS = {"done": "✓", "skipped": "↷", "failed": "✗", "planned": "•", "undone": "↺"}
STYLES = {"✓": "green", "↷": "dim", "✗": "bold red", "↺": "cyan"}


def _secs(value: float) -> str:
    if value < 60:
        return f"{value:.1f}s"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes}m{seconds:02d}s"


def _first_line(error: BaseException) -> str:
    if isinstance(error, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"  # as the state records it; not a class name
    text = str(error) or type(error).__name__
    return text.splitlines()[0]


class PlainReporter:
    """One line per event, for pipes, CI and logs read later."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def _say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def run_started(self, command: str, steps: Sequence[str]) -> None:
        self._say(f"mboxed {command}: {len(steps)} step(s): {', '.join(steps)}")

    def step_started(self, name: str, estimate: float | None) -> None:
        hint = f" (last time {_secs(estimate)})" if estimate else ""
        self._say(f"  … {name}{hint}")

    def step_progress(self, name: str, message: str) -> None:
        self._say(f"    {name}: {message}")

    # A background task reports from its worker threads, often: a line every
    # TASK_EVERY seconds is enough for a log.
    TASK_EVERY = 10.0

    def task_progress(self, name: str, summary: str) -> None:
        now = time.monotonic()
        last = self.__dict__.setdefault("_task_shown", {})
        if now - last.get(name, -self.TASK_EVERY) >= self.TASK_EVERY:
            last[name] = now
            self._say(f"    {name} (background): {summary}")

    def step_planned(self, name: str, plan: Plan, note: str) -> None:
        if plan.blocked:
            self._say(f"  {MARKS['failed']} {name}: blocked: {plan.reason}")
            if plan.hint:
                self._say(f"      then: {plan.hint}")
            return
        if plan.empty:
            self._say(f"  {MARKS['skipped']} {name}: {plan.reason or 'nothing to do'}")
            return
        extra = f" [{note}]" if note else ""
        self._say(f"  {MARKS['planned']} {name}: {len(plan.actions)} action(s){extra}")
        for action in plan.actions:
            self._say(f"      - {action.summary}")

    def step_skipped(self, name: str, reason: str, elapsed: float) -> None:
        self._say(f"  {MARKS['skipped']} {name}: {reason} ({_secs(elapsed)})")

    def step_done(self, name: str, plan: Plan, elapsed: float) -> None:
        self._say(f"  {MARKS['done']} {name}: {len(plan.actions)} action(s) ({_secs(elapsed)})")

    def step_failed(self, name: str, error: BaseException, elapsed: float) -> None:
        # The error may name the step itself (it also stands alone on the
        # `error:` line); once per line is enough.
        text = _first_line(error).removeprefix(f"{name}: ")
        self._say(f"  {MARKS['failed']} {name}: {text} ({_secs(elapsed)})")

    def step_undone(self, name: str, what: str, elapsed: float) -> None:
        self._say(f"  {MARKS['undone']} {name}: {what} ({_secs(elapsed)})")

    def run_finished(self, ok: bool) -> None:
        pass


class LiveReporter(PlainReporter):
    """A TTY view: finished steps as lines with a mark, the running step as a
    spinner with its elapsed time and last run's duration as an estimate.
    rich honours NO_COLOR by itself."""

    def __init__(self, console: Console | None = None) -> None:
        from rich.console import Console

        self.console = console or Console(highlight=False)
        super().__init__(self.console.file)
        self._status: Status | None = None
        self._label = ""
        self._background = ""

    def _say(self, text: str) -> None:
        style = next((STYLES[m] for m in STYLES if text.lstrip().startswith(m)), None)
        self.console.print(text, markup=False, highlight=False, style=style)

    def _stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def step_started(self, name: str, estimate: float | None) -> None:
        self._stop()
        hint = f" · about {_secs(estimate)}" if estimate else ""
        self._label = f"{name}{hint}"
        self._started = time.monotonic()
        self._status = self.console.status(self._label)
        self._status.start()

    def step_progress(self, name: str, message: str) -> None:
        if self._status is not None:
            elapsed = _secs(time.monotonic() - self._started)
            self._status.update(f"{self._label} · {elapsed} · {message}")
        else:
            super().step_progress(name, message)

    def task_progress(self, name: str, summary: str) -> None:
        """Background work (image pulls: bytes, rate, time left) under the
        running step's spinner."""
        self._background = f"{name}: {summary}"
        if self._status is not None:
            elapsed = _secs(time.monotonic() - self._started)
            self._status.update(f"{self._label} · {elapsed}\n  ⇣ {self._background}")

    def step_skipped(self, name: str, reason: str, elapsed: float) -> None:
        self._stop()
        super().step_skipped(name, reason, elapsed)

    def step_done(self, name: str, plan: Plan, elapsed: float) -> None:
        self._stop()
        super().step_done(name, plan, elapsed)

    def step_failed(self, name: str, error: BaseException, elapsed: float) -> None:
        self._stop()
        super().step_failed(name, error, elapsed)

    def step_undone(self, name: str, what: str, elapsed: float) -> None:
        self._stop()
        super().step_undone(name, what, elapsed)

    def run_finished(self, ok: bool) -> None:
        self._stop()


def make_reporter(stream: IO[str] | None = None) -> PlainReporter:
    stream = stream or sys.stdout
    if stream.isatty() and os.environ.get("TERM") != "dumb" and not os.environ.get("CI"):
        return LiveReporter()
    return PlainReporter(stream)
