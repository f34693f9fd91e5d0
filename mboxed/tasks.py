"""Work that outlives a step: a background task one step starts and a later
step awaits, owned by the engine (issue 11, item 4).

The first user is image pulling: it starts as soon as the cluster and chart
are there and runs while the chart's secrets, TLS, users and the helm install
go on; `ready` waits for it. A task is a set of items (one per image) worked
by a few daemon threads; each item's state and result are saved in the state
file under `tasks.<name>`, at every change of an item's status, so `status`
and `plan` show them and a killed run leaves a record of what finished.
Facts still come from the world: a step that resumes a task asks the world
which items are really done (a finished pull is on the node), and the task
is started again with only what is missing.

Saving from a worker thread: the task builds its record afresh at each save
and hands it to State.save_task, which swaps it in and writes the file under
the State's lock, from the engine's last saved rendering: a worker never
reads the engine's data, which the engine changes without a lock.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mboxed.errors import MboxedError
from mboxed.state import now_iso

log = logging.getLogger("mboxed.tasks")

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
# (item key, progress(done, total)) -> result fields saved with the item
Work = Callable[[str, Callable[[int, int], None]], Mapping[str, Any]]


@dataclass
class Item:
    key: str
    label: str
    status: str = PENDING
    done: int = 0
    total: int = 0
    started: float = 0.0
    ended: float = 0.0
    error: str = ""
    hint: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    unit: str = "bytes"  # what done/total count: bytes, or nodes (a DaemonSet's)

    @property
    def rate(self) -> float:
        """Bytes per second so far."""
        end = self.ended or time.monotonic()
        return self.done / (end - self.started) if self.started and end > self.started else 0.0

    @property
    def left(self) -> float | None:
        """Seconds left at the current rate (None: unknown)."""
        if not self.total or not self.rate:
            return None
        return max(0.0, (self.total - self.done) / self.rate)


def gb(value: int) -> str:
    if value >= 10**9:
        return f"{value / 10**9:.1f} GB"
    if value >= 10**6:
        return f"{value / 10**6:.0f} MB"
    return f"{value / 10**3:.0f} kB"


def describe(item: Item) -> str:
    """One line for an item: `pulling systemuser 1.2 GB/3.4 GB, 25 MB/s, 1m30s left`."""
    if item.status != RUNNING:
        return f"{item.label}: {item.status}"
    text = f"pulling {item.label}"
    if item.unit != "bytes":
        return text + (f" {item.done}/{item.total} {item.unit}" if item.total else "")
    if item.total:
        text += f" {gb(item.done)}/{gb(item.total)}"
    if item.rate:
        text += f", {gb(int(item.rate))}/s"
    left = item.left
    if left is not None:
        minutes, seconds = divmod(int(left), 60)
        text += f", {minutes}m{seconds:02d}s left" if minutes else f", {seconds}s left"
    return text


class TaskFailed(MboxedError):
    """An item of a background task failed."""


class Task:
    """One background task: its items, its workers, its record in the state."""

    def __init__(
        self,
        name: str,
        items: Mapping[str, str],
        work: Work,
        state: Any,
        workers: int,
        on_change: Callable[[Task], None] | None = None,
        unit: str = "bytes",
    ) -> None:
        self.name = name
        self.items = {key: Item(key, label, unit=unit) for key, label in items.items()}
        self._work = work
        self._state = state
        self._on_change = on_change
        self._lock = threading.Lock()
        self._queue: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        for key in self.items:
            self._queue.put(key)
        self._threads = [
            threading.Thread(target=self._worker, name=f"mboxed-{name}-{n}", daemon=True)
            for n in range(max(1, min(workers, len(self.items))))
        ]
        self._fields: dict[str, Any] = {}
        self._save(status=RUNNING, started=now_iso(), ended=None)
        for thread in self._threads:
            thread.start()

    # -- state -----------------------------------------------------------------
    def _save(self, **fields: Any) -> None:
        """Save the task's record: built afresh from the items, under the
        task's lock (two workers finishing at once), and handed to the state,
        which writes it under its own lock (State.save_task). A save that
        fails (a full disk) is logged: the pulls go on, the next save retries."""
        with self._lock:
            self._fields.update(fields)
            items = {}
            for item in self.items.values():
                entry = dict(item.result)
                entry.update(status=item.status, label=item.label, bytes=item.done)
                entry.update(total=item.total, error=item.error or None)
                items[item.key] = entry
            try:
                self._state.save_task(self.name, {**self._fields, "items": items})
            except MboxedError as exc:
                log.warning("task %s: state not saved: %s", self.name, exc.message)

    # -- workers ---------------------------------------------------------------
    def _worker(self) -> None:
        while not self._stop.is_set():
            try:
                key = self._queue.get_nowait()
            except queue.Empty:
                break
            item = self.items[key]
            item.status, item.started = RUNNING, time.monotonic()
            self._changed(save=True)

            def progress(done: int, total: int, item: Item = item) -> None:
                item.done, item.total = done, total
                self._changed(save=False)

            try:
                item.result = dict(self._work(key, progress))
                item.status = DONE
            except MboxedError as exc:
                item.status, item.error, item.hint = FAILED, exc.message, exc.hint
            except Exception as exc:  # a bug: recorded, shown by the awaiting step
                log.exception("task %s item %s", self.name, key)
                item.status, item.error = FAILED, f"bug: {exc!r}"
            item.ended = time.monotonic()
            self._changed(save=True)
        if self.finished:
            status = FAILED if self.failed else DONE
            self._save(status=status, ended=now_iso())

    def _changed(self, save: bool) -> None:
        if save:
            self._save()
        if self._on_change is not None:
            self._on_change(self)

    # -- views -----------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return all(i.status in (DONE, FAILED) for i in self.items.values())

    @property
    def failed(self) -> list[Item]:
        return [i for i in self.items.values() if i.status == FAILED]

    def summary(self) -> str:
        """What is happening now, in one line (the running items first)."""
        running = [i for i in self.items.values() if i.status == RUNNING]
        done = sum(1 for i in self.items.values() if i.status == DONE)
        head = "; ".join(describe(i) for i in running[:2]) or "waiting"
        return f"{head} ({done}/{len(self.items)} images done)"

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return self.finished


class Tasks:
    """The engine's background tasks of one run."""

    def __init__(self, state: Any, workers: int = 3) -> None:
        self.state = state
        # the key exists before any worker runs: a worker then replaces its
        # value and never adds a key to a dict the engine may be iterating
        state.data.setdefault("tasks", {})
        self.workers = workers
        self.tasks: dict[str, Task] = {}
        self.on_change: Callable[[Task], None] | None = None

    def start(
        self, name: str, items: Mapping[str, str], work: Work, *, unit: str = "bytes"
    ) -> Task:
        """Start `work` on every item in the background (replacing a finished
        task of that name); returns at once. `unit`: what progress counts."""
        current = self.tasks.get(name)
        if current is not None and not current.finished:
            raise RuntimeError(f"task {name} is already running")
        task = Task(name, items, work, self.state, self.workers, self.on_change, unit)
        self.tasks[name] = task
        return task

    def running(self, name: str) -> Task | None:
        task = self.tasks.get(name)
        return task if task is not None and not task.finished else None

    def get(self, name: str) -> Task | None:
        return self.tasks.get(name)

    def wait(
        self,
        name: str,
        progress: Callable[[str], None],
        *,
        interval: float = 1.0,
        timeout: float | None = None,
    ) -> None:
        """Block until the task is finished, reporting its summary as it
        changes; raise TaskFailed naming the failed items."""
        task = self.tasks.get(name)
        if task is None:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        shown = ""
        while not task.finished:
            line = task.summary()
            if line != shown:
                progress(line)
                shown = line
            if deadline is not None and time.monotonic() > deadline:
                raise TaskFailed(
                    f"{name}: not finished after {timeout:g}s: {task.summary()}",
                    hint="run `mboxed up` again: it resumes what is left",
                )
            task.join(interval)
        failed = task.failed
        if failed:
            first = failed[0]
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            raise TaskFailed(first.error + more, hint=first.hint)

    def shutdown(self, wait: bool, progress: Callable[[str], None] | None = None) -> None:
        """End of a run: wait for what is running (a run that went well) or
        stop handing out work (an interrupted or failed one)."""
        for name, task in self.tasks.items():
            if task.finished:
                continue
            if wait:
                with contextlib.suppress(TaskFailed):
                    self.wait(name, progress or (lambda line: None))
            else:
                task.stop()


def stored(state: Any, name: str) -> dict[str, Any]:
    """A task's record in the state file ({} if it never ran)."""
    return dict(state.task(name))
