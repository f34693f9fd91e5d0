"""The state file: one per deployment, YAML, mode 0600, written atomically.

It holds each step's status, timings, inputs hash, outputs (generated secrets
among them) and the journal of host changes that `down` reverts.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from mboxed import safeyaml
from mboxed.errors import LockHeld, StateError
from mboxed.paths import check_regular, unusable
from mboxed.state_schema import problems, short

log = logging.getLogger("mboxed.state")

SCHEMA_VERSION = 1

STEP_STATUSES = ("running", "done", "failed", "interrupted", "undone")


# The file is written in YAML's JSON flow style (JSON is YAML): PyYAML's
# representer and constructor cost about a second per save and load for a
# class of 2000 users, the json module a few milliseconds. A file edited by
# hand into block-style YAML still loads, through the loader profiles use.


def stable_hash(value: Any) -> str:
    """sha256 of a canonical JSON form: the same inputs give the same hash."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class _Rendered:
    """A state rendered key by key: one JSON text per top-level key and per
    step. A background task's save reuses the last one the owner saved and
    replaces only its own keys (see State.save_task)."""

    top: dict[str, str]
    steps: dict[str, str]

    @classmethod
    def of(cls, data: dict[str, Any]) -> _Rendered:
        top = {key: _dump(value) for key, value in data.items() if key != "steps"}
        return cls(top, {name: _dump(record) for name, record in data["steps"].items()})

    def text(self) -> str:
        """One line per top-level key and per step: readable, and written by
        the json module's C encoder (an indented dump takes its slow Python path)."""
        lines = [f" {_dump(key)}: {value}," for key, value in self.top.items()]
        steps = [f"  {_dump(name)}: {record}" for name, record in self.steps.items()]
        body = ",\n".join(steps)
        head = "{\n" + "\n".join(lines) + '\n "steps": {\n'
        return head + body + ("\n" if steps else "") + " }\n}\n"


def _render(data: dict[str, Any]) -> str:
    return _Rendered.of(data).text()


def _write_atomic(path: Path, payload: bytes) -> None:
    """Mode 0600, fsynced, then renamed over `path`: never a partial file."""
    fd, tmp = tempfile.mkstemp(prefix=".state-", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


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


def _check_structure(path: Path, data: dict[str, Any]) -> None:
    """The whole file, before anything uses it: a wrong shape is reported
    with its key path, and nothing is written."""
    found = problems(data)
    if found:
        raise _corrupt(path, "; ".join(found[:5]))


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
        # Two writers: the owner (the engine's thread, and the steps it runs)
        # mutates `data` freely and saves it; a background task (mboxed.tasks)
        # saves from its worker threads through `save_task`. The lock
        # serialises every save and every change of `data["tasks"]`; a task's
        # save writes the owner's last *saved* rendering with only the task's
        # record replaced, so it never reads `data` while the owner is halfway
        # through changing it.
        self.lock = threading.RLock()
        self._saved: _Rendered | None = None

    @property
    def exists(self) -> bool:
        return self.path.exists()

    @classmethod
    def load(cls, path: Path, deployment: str) -> State:
        try:
            if not path.exists():
                return cls(path, deployment)
            check_regular(path, "state file")
            raw = path.read_bytes()
        except OSError as exc:
            # Unreadable is not corrupt: its secrets may be fine, only not ours to read.
            raise unusable("read the state file", path, exc) from None
        try:
            # surrogateescape: the bytes of a path that is not UTF-8 (a profile
            # file's name) come back as the str Python made of them (_render)
            try:
                data = json.loads(raw.decode("utf-8", "surrogateescape"))
            except ValueError:  # a hand edit in block style: YAML, and UTF-8 throughout
                data = safeyaml.load(raw.decode("utf-8"))[0]
        except RecursionError:
            raise _corrupt(path, "nested too deeply") from None
        except (UnicodeDecodeError, yaml.YAMLError) as exc:
            raise _corrupt(path, str(exc).splitlines()[0]) from exc
        if not isinstance(data, dict) or "steps" not in data or "schema" not in data:
            raise _corrupt(path, "not an mboxed state (no 'schema'/'steps')")
        if type(data["schema"]) is not int:  # a bool is an int, and True == 1
            raise _corrupt(path, f"schema: not a version number (got {short(data['schema'])})")
        if data["schema"] != SCHEMA_VERSION:
            raise StateError(
                f"state file {path} has schema version {data['schema']!r}; "
                f"this mboxed reads version {SCHEMA_VERSION}",
                hint="use the mboxed version that wrote it, or move the file aside",
            )
        if not isinstance(data["steps"], dict):
            raise _corrupt(path, "'steps' is not a mapping")
        _check_structure(path, data)
        return cls(path, deployment, data)

    def step(self, name: str) -> StepRecord:
        return StepRecord(self.data["steps"].setdefault(name, {}))

    def has_step(self, name: str) -> bool:
        return name in self.data["steps"]

    def drop_step(self, name: str) -> None:
        self.data["steps"].pop(name, None)

    def outputs(self, name: str) -> dict[str, Any]:
        return dict(self.data["steps"].get(name, {}).get("outputs", {}))

    @property
    def backup_path(self) -> Path:
        return self.path.with_suffix(".yaml.bak")

    def save(self) -> None:
        """The owner's save: `data` as it is now (call it from the thread that
        changes `data`, i.e. the engine's)."""
        with self.lock:
            self.data["updated"] = now_iso()
            # A value JSON cannot represent fails here, before anything on disk changes.
            rendered = _Rendered.of(self.data)
            self._write(rendered.text().encode("utf-8", "surrogateescape"))
            self._saved = rendered

    def task(self, name: str) -> dict[str, Any]:
        """A background task's record ({} if it never ran): a copy, read
        under the lock."""
        with self.lock:
            return copy.deepcopy((self.data.get("tasks") or {}).get(name) or {})

    def save_task(self, name: str, record: dict[str, Any]) -> None:
        """A background task's save, from any thread: its record replaces the
        previous one (a new dict each time, never changed in place, so a
        reader holding the old one reads a whole record), and the file is
        written from the owner's last save plus the tasks' records."""
        with self.lock:
            tasks = dict(self.data.get("tasks") or {})
            tasks[name] = record
            self.data["tasks"] = tasks
            base = self._saved or _Rendered.of(self._last_saved_data())
            top = {**base.top, "updated": _dump(now_iso()), "tasks": _dump(tasks)}
            self._write(_Rendered(top, base.steps).text().encode("utf-8", "surrogateescape"))
            self._saved = _Rendered(top, base.steps)

    def _last_saved_data(self) -> dict[str, Any]:
        """What the file holds (nothing saved by this State yet): a task's
        first save must not write the owner's unsaved changes either."""
        if self.path.exists():
            return dict(State.load(self.path, self.deployment).data)
        return _empty(self.deployment)

    def _write(self, payload: bytes) -> None:
        """Write the state atomically, after copying the last saved one to the
        backup, atomically too: a write cut short (a full disk) leaves both
        files as they were. A failure is one StateError naming the file."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            previous = self.path.read_bytes() if self.path.exists() else None
        except OSError as exc:
            raise unusable("write the state file", self.path, exc) from None
        if previous is not None:
            try:
                _write_atomic(self.backup_path, previous)
            except OSError as exc:  # the state itself still saves
                log.warning("could not update the backup %s: %s", self.backup_path, exc)
        try:
            _write_atomic(self.path, payload)
        except OSError as exc:
            raise unusable("save the state file", self.path, exc) from None

    def remove(self) -> None:
        for path in (self.path, self.backup_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _lock_holder(fd: int) -> str:
    """Who holds the lock, as its holder wrote it. A holder that has just
    taken the lock writes its line a moment later: wait a little for it."""
    for _ in range(10):
        holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
        if holder:
            return holder
        time.sleep(0.02)
    return "another mboxed run"


# Locks this process holds, by path: `App.locked` takes the lock before it
# reads the state, and the engine's own `deployment_lock` inside it must not
# lock again (flock on a second descriptor would find the lock held).
_HELD: dict[Path, int] = {}


@contextlib.contextmanager
def deployment_lock(path: Path, command: str) -> Iterator[None]:
    """One up/down per deployment. flock is released by the kernel when the
    holder dies, so a SIGKILLed run never leaves a stale lock behind.
    Re-entrant within one process."""
    key = path.absolute()
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise unusable("open the lock file", path, exc) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_holder(fd)
            raise LockHeld(
                f"deployment {path.parent.name!r} is busy: held by {holder}",
                hint="wait for that run to finish (or stop it); only one "
                "up/down/start/stop runs at a time per deployment",
            ) from None
        info = f"pid {os.getpid()} on {socket.gethostname()} ({command}, since {now_iso()})"
        with contextlib.suppress(OSError):  # who holds it is only for the message (disk full)
            os.ftruncate(fd, 0)
            os.pwrite(fd, info.encode(), 0)
        _HELD[key] = 1
        try:
            yield
        finally:
            del _HELD[key]
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
