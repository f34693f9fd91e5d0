"""The step contract (DESIGN §2): what a step is (facts -> plan -> apply ->
outputs, undo from its journal), the Plan it makes, and the Context it is
handed. The engine (mboxed.engine) runs steps through it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from mboxed.journal import JournalEntry, revert


@dataclass(frozen=True)
class Action:
    """One thing a step will do, said so a user understands it."""

    summary: str
    kind: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    """What a step would do. No actions = nothing to do, and `reason` says why.

    A blocked plan has no action the step could take, yet the world is not
    right: only the user can unblock it (`hint` says how). `up` fails there,
    resumably; a dry run shows it.
    """

    actions: list[Action] = field(default_factory=list)
    reason: str = ""
    blocked: bool = False
    hint: str = ""

    @property
    def empty(self) -> bool:
        return not self.actions

    @classmethod
    def nothing(cls, reason: str) -> Plan:
        return cls([], reason)

    @classmethod
    def blocked_by(cls, reason: str, hint: str) -> Plan:
        return cls([], reason, blocked=True, hint=hint)


@runtime_checkable
class Step(Protocol):
    name: str
    description: str

    def inputs(self, ctx: Context) -> Mapping[str, Any]: ...
    def facts(self, ctx: Context) -> Any: ...
    def plan(self, ctx: Context, facts: Any) -> Plan: ...
    def apply(self, ctx: Context, plan: Plan) -> Mapping[str, Any] | None: ...
    def outputs(self, ctx: Context, facts: Any) -> Mapping[str, Any]: ...
    def undo(self, ctx: Context, journal: Sequence[JournalEntry]) -> None: ...


class BaseStep(ABC):
    """Defaults for the optional parts of the contract."""

    name: str = ""
    description: str = ""
    # Outputs that outlive `down` (only `down --purge` drops them): what a
    # user was handed and expects again on the next `up`, such as passwords
    # printed on a class's credential cards.
    keeps_outputs_on_down: bool = False

    @abstractmethod
    def facts(self, ctx: Context) -> Any: ...

    @abstractmethod
    def plan(self, ctx: Context, facts: Any) -> Plan: ...

    @abstractmethod
    def apply(self, ctx: Context, plan: Plan) -> Mapping[str, Any] | None: ...

    def inputs(self, ctx: Context) -> Mapping[str, Any]:
        return {}

    def outputs(self, ctx: Context, facts: Any) -> Mapping[str, Any]:
        return {}

    def undo(self, ctx: Context, journal: Sequence[JournalEntry]) -> None:
        for entry in reversed(journal):
            revert(ctx, entry)


# --- context handed to steps --------------------------------------------------


class Reporter(Protocol):
    def run_started(self, command: str, steps: Sequence[str]) -> None: ...
    def step_started(self, name: str, estimate: float | None) -> None: ...
    def step_progress(self, name: str, message: str) -> None: ...
    def step_planned(self, name: str, plan: Plan, note: str) -> None: ...
    def step_skipped(self, name: str, reason: str, elapsed: float) -> None: ...
    def step_done(self, name: str, plan: Plan, elapsed: float) -> None: ...
    def step_failed(self, name: str, error: BaseException, elapsed: float) -> None: ...
    def step_undone(self, name: str, what: str, elapsed: float) -> None: ...
    def run_finished(self, ok: bool) -> None: ...


@dataclass
class Options:
    dry_run: bool = False
    yes: bool = False
    force: bool = False
    mirror: str | None = None
    trust: bool = False
    bundle: str | None = None  # `up --bundle FILE`: its room is then the mirror


@dataclass
class Context:
    """Everything a step may use. Steps reach the world only through `shell`
    (commands) and the client libraries; they reach earlier steps only through
    `outputs()`."""

    deployment: str
    profile: Any  # mboxed.profile_schema.Profile; Any keeps this module import-light
    paths: Any  # mboxed.paths.Paths
    shell: Any  # mboxed.shell.Shell
    state: Any  # mboxed.state.State
    reporter: Reporter
    options: Options = field(default_factory=Options)
    profile_name: str = ""
    current_step: str | None = None
    confirm_fn: Callable[[str], bool] | None = None
    tasks: Any = None  # mboxed.tasks.Tasks: background work of this run (the engine's)

    def command_line(self, command: str) -> str:
        """How the user runs `command` on this deployment (for hints)."""
        name = "" if self.deployment == "default" else f" --name {self.deployment}"
        return f"mboxed {command}{name}"

    def outputs(self, step: str) -> dict[str, Any]:
        """Outputs an earlier step recorded (empty when it has not run)."""
        return dict(self.state.outputs(step))

    def step_done(self, step: str) -> bool:
        return bool(self.state.has_step(step) and self.state.step(step).status == "done")

    def record(self, kind: str, **data: Any) -> None:
        """Journal a host change right after making it; saved at once so a
        killed run still knows what to revert."""
        if self.current_step is None:
            raise RuntimeError("record() outside a step")
        self.state.step(self.current_step).journal.append(JournalEntry(kind, data).to_dict())
        self.state.save()

    def journal(self, step: str | None = None) -> list[JournalEntry]:
        name = step or self.current_step
        if name is None or not self.state.has_step(name):
            return []
        return [JournalEntry.from_dict(e) for e in self.state.step(name).journal]

    def progress(self, message: str) -> None:
        self.reporter.step_progress(self.current_step or "", message)

    def confirm(self, question: str) -> bool:
        """--yes answers yes; --force too; otherwise ask (or refuse without a TTY)."""
        if self.options.yes or self.options.force:
            return True
        if self.confirm_fn is not None:
            return self.confirm_fn(question)
        return False
