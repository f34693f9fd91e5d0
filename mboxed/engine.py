"""The step pipeline: facts -> plan -> apply -> converge check (DESIGN §2).

`up` walks the steps forward, `down` walks them backward. The state file is
saved atomically after every step, so a killed run resumes where it stopped.

The step contract (Action, Plan, Step, BaseStep, Context, ...) lives in
mboxed.contract, the journal of reversible changes in mboxed.journal.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

from mboxed.contract import Context, Plan, Step
from mboxed.errors import (
    Deferred,
    DidNotConverge,
    Interrupted,
    MboxedError,
    ProfileError,
    TransientError,
)
from mboxed.journal import JournalEntry
from mboxed.state import deployment_lock, now_iso, stable_hash

log = logging.getLogger("mboxed.engine")


def _tasks_for(ctx: Context) -> Any:
    """The run's background tasks, their changes shown by the reporter."""
    from mboxed.tasks import Tasks

    tasks = Tasks(ctx.state)
    show = getattr(ctx.reporter, "task_progress", None)
    if show is not None:
        tasks.on_change = lambda task: show(task.name, task.summary())
    return tasks


# --- the pipeline --------------------------------------------------------------


@dataclass
class StepResult:
    name: str
    outcome: str  # done | skipped | planned | blocked | deferred | failed | interrupted | undone
    plan: Plan | None = None
    elapsed: float = 0.0
    note: str = ""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signum)

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Pipeline:
    def __init__(
        self,
        steps: Sequence[Step],
        *,
        retry_attempts: int = 3,
        retry_wait: float = 1.0,
        retry_max_wait: float = 20.0,
    ) -> None:
        names = [s.name for s in steps]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate step names: {names}")
        self.steps = list(steps)
        self.retry_attempts = retry_attempts
        self.retry_wait = retry_wait
        self.retry_max_wait = retry_max_wait

    # -- selection -----------------------------------------------------------
    def select(self, only: Sequence[str] = (), from_: str | None = None) -> list[Step]:
        names = [s.name for s in self.steps]
        for wanted in [*only, *([from_] if from_ else [])]:
            if wanted not in names:
                raise MboxedError(f"no step named {wanted!r}", hint="steps: " + ", ".join(names))
        chosen = self.steps
        if from_:
            chosen = chosen[names.index(from_) :]
        if only:
            chosen = [s for s in chosen if s.name in only]
        return chosen

    # -- helpers -------------------------------------------------------------
    def _call(self, fn: Callable[[], Any]) -> Any:
        """Call fn; on a TransientError retry it with backoff, a bounded number
        of times (tenacity is imported only when a retry is needed)."""
        try:
            return fn()
        except TransientError as first:
            log.info("transient failure, will retry: %s", first)
            if self.retry_attempts <= 1:
                raise
        from tenacity import (
            Retrying,
            retry_if_exception_type,
            stop_after_attempt,
            wait_exponential,
        )

        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self.retry_attempts - 1),
            wait=wait_exponential(multiplier=self.retry_wait, max=self.retry_max_wait),
            reraise=True,
        )
        return retrying(fn)

    def _facts_and_plan(self, ctx: Context, step: Step) -> tuple[Any, Plan]:
        facts = self._call(lambda: step.facts(ctx))
        plan = step.plan(ctx, facts)
        return facts, plan

    # -- up / plan -----------------------------------------------------------
    def up(
        self,
        ctx: Context,
        *,
        only: Sequence[str] = (),
        from_: str | None = None,
        command: str = "up",
    ) -> list[StepResult]:
        chosen = self.select(only, from_)
        if ctx.options.dry_run:
            return self._dry_run(ctx, chosen, command)
        if ctx.tasks is None:
            ctx.tasks = _tasks_for(ctx)
        lock = ctx.paths.lock_file(ctx.deployment)
        with deployment_lock(lock, command), _sigterm_as_interrupt():
            return self._run(ctx, chosen, command)

    def _dry_run(self, ctx: Context, chosen: Sequence[Step], command: str) -> list[StepResult]:
        ctx.reporter.run_started(command, [s.name for s in chosen])
        results: list[StepResult] = []
        pending: list[str] = []
        for step in chosen:
            ctx.current_step = step.name
            started = time.monotonic()
            note = self._drift_note(ctx, step)
            try:
                _facts, plan = self._facts_and_plan(ctx, step)
            except Deferred as exc:
                plan = Plan.nothing(str(exc))
                results.append(StepResult(step.name, "deferred", plan, note=str(exc)))
                ctx.reporter.step_planned(step.name, plan, str(exc))
                continue
            except MboxedError as exc:
                # A wrong profile value (ProfileError) is wrong whatever the
                # earlier steps do: report it now instead of deferring it.
                if pending and not isinstance(exc, ProfileError):
                    reason = f"after {pending[-1]} ({exc.message.splitlines()[0]})"
                    plan = Plan.nothing(reason)
                    results.append(StepResult(step.name, "deferred", plan, note=reason))
                    ctx.reporter.step_planned(step.name, plan, reason)
                    continue
                raise
            finally:
                ctx.current_step = None
            elapsed = time.monotonic() - started
            outcome = "blocked" if plan.blocked else "skipped" if plan.empty else "planned"
            if not plan.empty:
                pending.append(step.name)
            results.append(StepResult(step.name, outcome, plan, elapsed, note))
            ctx.reporter.step_planned(step.name, plan, note)
        ctx.reporter.run_finished(True)
        return results

    def _drift_note(self, ctx: Context, step: Step) -> str:
        if not ctx.state.has_step(step.name):
            return ""
        record = ctx.state.step(step.name)
        if record.status == "done" and record.inputs_hash not in (
            None,
            stable_hash(step.inputs(ctx)),
        ):
            return "inputs changed since the last run"
        return ""

    def _run(self, ctx: Context, chosen: Sequence[Step], command: str) -> list[StepResult]:
        state = ctx.state
        state.data["last_run"] = {"command": command, "started": now_iso(), "result": "running"}
        state.save()
        ctx.reporter.run_started(command, [s.name for s in chosen])
        results: list[StepResult] = []
        outcome = "failed"
        try:
            for step in chosen:
                results.append(self._run_step(ctx, step, command))
            self._await_tasks(ctx)
            outcome = "ok"
        except (Interrupted, KeyboardInterrupt):
            outcome = "interrupted"
            raise
        finally:
            if ctx.tasks is not None:
                ctx.tasks.shutdown(wait=False)
            state.data["last_run"].update(ended=now_iso(), result=outcome)
            state.save()
            ctx.reporter.run_finished(outcome == "ok")
        return results

    def _await_tasks(self, ctx: Context) -> None:
        """Background work a run started outlives no run: what no step
        awaited (`up --only images`: `ready` is not in the run) is awaited
        here, shown as a step of its own with its progress, and saying so: a
        run that ends leaves nothing half-done behind it, and Ctrl-C stops
        the work for the next `up` to resume."""
        if ctx.tasks is None:
            return
        for name in list(ctx.tasks.tasks):
            if ctx.tasks.running(name) is None:
                continue
            label = f"{name} (background)"
            ctx.reporter.step_started(label, None)
            ctx.reporter.step_progress(
                label,
                "this run started it and waits for it to finish; Ctrl-C stops it and "
                "the next `mboxed up` resumes what is left",
            )
            started = time.monotonic()
            try:
                ctx.tasks.wait(name, lambda line, la=label: ctx.reporter.step_progress(la, line))
            except MboxedError as exc:
                ctx.reporter.step_failed(label, exc, time.monotonic() - started)
                raise
            ctx.reporter.step_skipped(label, "finished", time.monotonic() - started)

    def _run_step(self, ctx: Context, step: Step, command: str = "up") -> StepResult:
        state = ctx.state
        record = state.step(step.name)
        started_wall = now_iso()
        started = time.monotonic()
        ctx.current_step = step.name
        ctx.reporter.step_started(step.name, record.duration)
        try:
            inputs_hash = stable_hash(step.inputs(ctx))
            try:
                facts, plan = self._facts_and_plan(ctx, step)
            except Deferred as exc:
                # `--only` is an option of `up` alone; `trust`/`start` have none.
                more = f" (or add --only {exc.after})" if command == "up" else " first"
                raise MboxedError(
                    f"step {step.name} cannot run yet: it needs {exc.after} first",
                    hint=f"run `{ctx.command_line('up')}`{more}",
                ) from None
            if plan.blocked:
                raise MboxedError(f"{step.name}: {plan.reason}", hint=plan.hint)
            if plan.empty:
                before = copy.deepcopy(record.data)
                record.data.update(status="done", inputs_hash=inputs_hash, error=None)
                record.outputs.update(step.outputs(ctx, facts))
                record.data.setdefault("started", started_wall)
                if record.data != before:  # an unchanged record needs no write
                    state.save()
                elapsed = time.monotonic() - started
                ctx.reporter.step_skipped(step.name, plan.reason or "nothing to do", elapsed)
                return StepResult(step.name, "skipped", plan, elapsed)

            record.data.update(status="running", started=started_wall, ended=None, error=None)
            state.save()
            log.info("step %s: %d action(s)", step.name, len(plan.actions))
            for action in plan.actions:
                log.info("  - %s", action.summary)
            produced = self._call(lambda: step.apply(ctx, plan))
            if produced:
                record.outputs.update(produced)
            facts, after = self._facts_and_plan(ctx, step)
            if after.blocked:
                raise MboxedError(f"{step.name}: {after.reason}", hint=after.hint)
            if not after.empty:
                left = "; ".join(a.summary for a in after.actions)
                raise DidNotConverge(
                    f"step {step.name} did not converge: still to do: {left}",
                    hint="see the log for what the step ran",
                )
            record.outputs.update(step.outputs(ctx, facts))
            elapsed = time.monotonic() - started
            record.data.update(
                status="done",
                ended=now_iso(),
                duration=round(elapsed, 3),
                inputs_hash=inputs_hash,
                actions=[a.summary for a in plan.actions],
            )
            state.save()
            ctx.reporter.step_done(step.name, plan, elapsed)
            return StepResult(step.name, "done", plan, elapsed)
        except (Interrupted, KeyboardInterrupt) as exc:
            record.data.update(status="interrupted", ended=now_iso(), error=str(exc) or "Ctrl-C")
            state.save()
            ctx.reporter.step_failed(step.name, exc, time.monotonic() - started)
            raise
        except BaseException as exc:
            message = exc.message if isinstance(exc, MboxedError) else f"bug: {exc!r}"
            record.data.update(status="failed", ended=now_iso(), error=message)
            state.save()
            ctx.reporter.step_failed(step.name, exc, time.monotonic() - started)
            raise
        finally:
            ctx.current_step = None

    # -- down ----------------------------------------------------------------
    def down(self, ctx: Context, *, command: str = "down") -> list[StepResult]:
        lock = ctx.paths.lock_file(ctx.deployment)
        with deployment_lock(lock, command), _sigterm_as_interrupt():
            state = ctx.state
            ctx.reporter.run_started(command, [s.name for s in reversed(self.steps)])
            results: list[StepResult] = []
            ok = False
            outcome = "failed"
            if state.exists:  # `status` then says "last down …", not the up before it
                state.data["last_run"] = {
                    "command": command,
                    "started": now_iso(),
                    "result": "running",
                }
                state.save()
            try:
                for step in reversed(self.steps):
                    if not state.has_step(step.name) or state.step(step.name).status == "undone":
                        continue
                    started = time.monotonic()
                    ctx.current_step = step.name
                    ctx.reporter.step_started(step.name, None)
                    try:
                        journal = ctx.journal(step.name)

                        def undo(step: Step = step, journal: list[JournalEntry] = journal) -> None:
                            step.undo(ctx, journal)

                        self._call(undo)
                    except BaseException as exc:
                        ctx.reporter.step_failed(step.name, exc, time.monotonic() - started)
                        raise
                    finally:
                        ctx.current_step = None
                    record = state.step(step.name)
                    what = f"{len(journal)} change(s) reverted" if journal else "nothing to revert"
                    kept = record.outputs if getattr(step, "keeps_outputs_on_down", False) else {}
                    record.data.clear()
                    record.data.update(status="undone", ended=now_iso())
                    if kept:
                        record.data["outputs"] = kept
                        what += "; kept for the next up (down --purge drops it)"
                    state.save()
                    elapsed = time.monotonic() - started
                    ctx.reporter.step_undone(step.name, what, elapsed)
                    results.append(StepResult(step.name, "undone", None, elapsed, what))
                ok = True
                outcome = "ok"
            except (Interrupted, KeyboardInterrupt):
                outcome = "interrupted"
                raise
            finally:
                if state.exists:
                    state.data["last_run"].update(ended=now_iso(), result=outcome)
                    state.save()
                ctx.reporter.run_finished(ok)
            return results
