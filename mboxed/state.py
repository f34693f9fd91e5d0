"""The state file: one per deployment, YAML, mode 0600, written atomically.

It holds each step's status, timings, inputs hash, outputs (generated secrets
among them) and the journal of host changes that `down` reverts.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from mboxed.errors import LockHeld, StateError

SCHEMA_VERSION = 1

STEP_STATUSES = ("running", "done", "failed", "interrupted", "undone")


# The file is written in YAML's JSON flow style (JSON is YAML): PyYAML's
# representer and constructor cost about a second per save and load for a
# class of 2000 users, the json module a few milliseconds. A file edited by
# hand into block-style YAML still loads (libyaml's loader when available).
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def stable_hash(value: Any) -> str:
    """sha256 of a canonical JSON form: the same inputs give the same hash."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _render(data: dict[str, Any]) -> str:
    """One line per top-level key and per step: readable, and written by the
    json module's C encoder (an indented dump takes its slow Python path)."""

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = [f" {dump(key)}: {dump(value)}," for key, value in data.items() if key != "steps"]
    steps = [f"  {dump(name)}: {dump(record)}" for name, record in data["steps"].items()]
    body = ",\n".join(steps)
    return "{\n" + "\n".join(lines) + '\n "steps": {\n' + body + ("\n" if steps else "") + " }\n}\n"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _empty(deployment: str) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "deployment": deployment,
        "created": now_iso(),
        "updated": now_iso(),
        "profile": None,
        "last_run": None,
        "steps": {},
    }


def _corrupt(path: Path, why: str) -> StateError:
    backup = path.with_suffix(".yaml.bak")
    return StateError(
        f"state file {path} is corrupt: {why}",
        hint=f"it was left untouched; restore the previous version ({backup}) if it "
        f"exists, or move the file aside (mv {path} {path}.broken) to start over",
    )


@dataclass
class StepRecord:
    """A view onto one step's entry in the state; writes go to the dict."""

    data: dict[str, Any]

    @property
    def status(self) -> str | None:
        return self.data.get("status")

    @property
    def outputs(self) -> dict[str, Any]:
        return self.data.setdefault("outputs", {})

    @property
    def journal(self) -> list[dict[str, Any]]:
        return self.data.setdefault("journal", [])

    @property
    def inputs_hash(self) -> str | None:
        return self.data.get("inputs_hash")

    @property
    def duration(self) -> float | None:
        value = self.data.get("duration")
        return float(value) if value is not None else None


class State:
    """Load, mutate, save. Every `save()` is atomic (temp file + os.replace)."""

    def __init__(self, path: Path, deployment: str, data: dict[str, Any] | None = None) -> None:
        self.path = path
        self.deployment = deployment
        self.data: dict[str, Any] = data if data is not None else _empty(deployment)
        # a background task (mboxed.tasks) saves from its worker threads
        self.lock = threading.RLock()

    @property
    def exists(self) -> bool:
        return self.path.exists()

    @classmethod
    def load(cls, path: Path, deployment: str) -> State:
        if not path.exists():
            return cls(path, deployment)
        try:
            text = path.read_text(encoding="utf-8")
            try:
                data = json.loads(text)
            except ValueError:
                data = yaml.load(text, Loader=_Loader)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise _corrupt(path, str(exc).splitlines()[0]) from exc
        if not isinstance(data, dict) or "steps" not in data or "schema" not in data:
            raise _corrupt(path, "not an mboxed state (no 'schema'/'steps')")
        if data["schema"] != SCHEMA_VERSION:
            raise StateError(
                f"state file {path} has schema version {data['schema']!r}; "
                f"this mboxed reads version {SCHEMA_VERSION}",
                hint="use the mboxed version that wrote it, or move the file aside",
            )
        if not isinstance(data["steps"], dict):
            raise _corrupt(path, "'steps' is not a mapping")
        return cls(path, deployment, data)

    def step(self, name: str) -> StepRecord:
        return StepRecord(self.data["steps"].setdefault(name, {}))

    def has_step(self, name: str) -> bool:
        return name in self.data["steps"]

    def drop_step(self, name: str) -> None:
        self.data["steps"].pop(name, None)

    def outputs(self, name: str) -> dict[str, Any]:
        return dict(self.data["steps"].get(name, {}).get("outputs", {}))

    def save(self) -> None:
        with self.lock:
            self._save()

    def _save(self) -> None:
        self.data["updated"] = now_iso()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # A value JSON cannot represent fails here, before anything on disk changes.
        payload = _render(self.data)
        if self.path.exists():
            backup = self.path.with_suffix(".yaml.bak")
            with contextlib.suppress(OSError):
                shutil.copy2(self.path, backup)
                os.chmod(backup, 0o600)
        fd, tmp = tempfile.mkstemp(prefix=".state-", suffix=".tmp", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def remove(self) -> None:
        for path in (self.path, self.path.with_suffix(".yaml.bak")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


@contextlib.contextmanager
def deployment_lock(path: Path, command: str) -> Iterator[None]:
    """One up/down per deployment. flock is released by the kernel when the
    holder dies, so a SIGKILLed run never leaves a stale lock behind."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "unknown"
            raise LockHeld(
                f"deployment {path.parent.name!r} is busy: held by {holder}",
                hint="wait for that run to finish (or stop it); only one "
                "up/down/start/stop runs at a time per deployment",
            ) from None
        info = f"pid {os.getpid()} on {socket.gethostname()} ({command}, since {now_iso()})"
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
