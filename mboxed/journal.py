"""Journaled host changes: the entry a step records, and the generic reverters.

A step records what it changed with `ctx.record(kind, **data)` right after
changing it; `down` hands the entries back to the step's `undo`, whose default
calls `revert` on each, newest first. Every reverter is idempotent: a `down`
that was interrupted half-way can simply run again.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mboxed.errors import MboxedError
from mboxed.state import now_iso


@dataclass(frozen=True)
class JournalEntry:
    """A host change a step made, so `down` can revert exactly it."""

    kind: str
    data: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "data": dict(self.data), "at": now_iso()}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> JournalEntry:
        return cls(str(raw["kind"]), dict(raw.get("data") or {}))


class RevertContext(Protocol):
    """What a reverter uses of a step's Context (mboxed.contract). This
    module sits below the contract, which imports it, so it asks for just
    these two."""

    shell: Any  # mboxed.shell.Shell
    current_step: str | None


def _file_created(ctx: RevertContext, data: dict[str, Any]) -> None:
    with contextlib.suppress(FileNotFoundError):
        Path(data["path"]).unlink()


def _dir_created(ctx: RevertContext, data: dict[str, Any]) -> None:
    shutil.rmtree(data["path"], ignore_errors=True)


def _line_added(ctx: RevertContext, data: dict[str, Any]) -> None:
    path = Path(data["path"])
    if not path.exists():
        return
    line = str(data["line"]).rstrip("\n")
    kept = [entry for entry in path.read_text().splitlines() if entry.rstrip() != line]
    text = "\n".join(kept) + ("\n" if kept else "")
    if data.get("root") and not ctx.shell.is_root():
        ctx.shell.run(["tee", str(path)], input=text, root=True)
    else:
        path.write_text(text)


def _command(ctx: RevertContext, data: dict[str, Any]) -> None:
    """`data['undo']` is the argv that reverses the change."""
    ctx.shell.run(list(data["undo"]), root=bool(data.get("root")), check=data.get("check", True))


REVERTERS: dict[str, Callable[[RevertContext, dict[str, Any]], None]] = {
    "file_created": _file_created,
    "dir_created": _dir_created,
    "line_added": _line_added,
    "command": _command,
}


def revert(ctx: RevertContext, entry: JournalEntry) -> None:
    reverter = REVERTERS.get(entry.kind)
    if reverter is None:
        raise MboxedError(
            f"step {ctx.current_step} journaled a change of kind {entry.kind!r} "
            "that has no reverter",
            hint="this is a bug in mboxed; the change was left in place",
        )
    reverter(ctx, dict(entry.data))
