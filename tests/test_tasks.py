"""Background tasks: items worked off the main thread, their state in the
state file as they change, awaited with progress, failures named."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from mboxed.errors import MboxedError
from mboxed.state import State
from mboxed.tasks import DONE, FAILED, Item, TaskFailed, Tasks, describe, stored


def state_at(tmp_path: Path) -> State:
    state = State(tmp_path / "state.yaml", "default")
    state.save()
    return state


def test_items_run_in_the_background_and_their_results_are_saved(tmp_path: Path) -> None:
    state = state_at(tmp_path)
    gate = threading.Event()

    def work(key: str, progress: Callable[[int, int], None]) -> Mapping[str, Any]:
        progress(1, 4)
        gate.wait(10)
        progress(4, 4)
        return {"digest": f"sha256:{key}"}

    tasks = Tasks(state, workers=2)
    task = tasks.start("images", {"a": "A", "b": "B"}, work)
    assert tasks.running("images") is task  # start returned while work waits
    lines: list[str] = []
    gate.set()
    tasks.wait("images", lines.append, interval=0.05)
    assert tasks.running("images") is None
    on_disk = json.loads(state.path.read_text())["tasks"]["images"]
    assert on_disk["status"] == DONE
    assert {k: (v["status"], v["digest"], v["bytes"]) for k, v in on_disk["items"].items()} == {
        "a": (DONE, "sha256:a", 4),
        "b": (DONE, "sha256:b", 4),
    }
    assert stored(State.load(state.path, "default"), "images")["status"] == DONE


def test_a_failed_item_is_recorded_and_the_awaiting_step_says_why(tmp_path: Path) -> None:
    state = state_at(tmp_path)

    def work(key: str, progress: Callable[[int, int], None]) -> Mapping[str, Any]:
        if key == "bad":
            raise MboxedError("pulling bad failed: manifest unknown", hint="use --mirror")
        return {}

    tasks = Tasks(state)
    tasks.start("images", {"good": "good", "bad": "bad"}, work)
    with pytest.raises(TaskFailed) as failed:
        tasks.wait("images", lambda line: None, interval=0.05)
    assert failed.value.message == "pulling bad failed: manifest unknown"
    assert failed.value.hint == "use --mirror"
    items = stored(state, "images")["items"]
    assert (items["bad"]["status"], items["good"]["status"]) == (FAILED, DONE)
    assert stored(state, "images")["status"] == FAILED


def test_the_summary_says_what_is_pulled_how_fast_and_what_is_left() -> None:
    item = Item("k", "systemuser", status="running", done=1_200_000_000, total=3_400_000_000)
    item.started = item.ended = 1.0
    item.ended = 49.0  # 48 s for 1.2 GB: 25 MB/s, 88 s left
    assert describe(item) == "pulling systemuser 1.2 GB/3.4 GB, 25 MB/s, 1m28s left"
    assert describe(Item("k", "pause", status="done")) == "pause: done"
    nodes = Item("k", "cernbox", status="running", done=1, total=3, unit="nodes")
    assert describe(nodes) == "pulling cernbox 1/3 nodes"  # a DaemonSet's progress


def test_a_stopped_task_hands_out_no_more_work(tmp_path: Path) -> None:
    state = state_at(tmp_path)
    started: list[str] = []
    gate = threading.Event()

    def work(key: str, progress: Callable[[int, int], None]) -> Mapping[str, Any]:
        started.append(key)
        gate.wait(10)
        return {}

    tasks = Tasks(state, workers=1)
    task = tasks.start("images", {"a": "a", "b": "b", "c": "c"}, work)
    tasks.shutdown(wait=False)
    gate.set()
    task.join(5)
    assert started == ["a"]
    assert stored(state, "images")["items"]["b"]["status"] == "pending"


def test_saves_from_workers_never_write_the_engines_half_made_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Stress: many items with fast progress, saving at every status change,
    while the main thread builds step records key by key and saves them as
    the engine does. Every file written must be whole: each step in it as the
    main thread saved it (never half-filled), and no save may be lost."""
    import mboxed.state

    written: list[bytes] = []

    def record_write(path: Path, payload: bytes) -> None:
        if path.name == "state.yaml":
            written.append(payload)
        path.write_bytes(payload)  # no fsync: hundreds of saves in a test

    monkeypatch.setattr(mboxed.state, "_write_atomic", record_write)
    state = state_at(tmp_path)
    keys = 300

    def work(key: str, progress: Callable[[int, int], None]) -> Mapping[str, Any]:
        for n in range(50):
            progress(n, 50)
        return {"digest": f"sha256:{key}"}

    tasks = Tasks(state, workers=4)
    summaries: list[str] = []
    tasks.on_change = lambda task: summaries.append(task.summary())
    task = tasks.start("images", {f"i{n}": f"image {n}" for n in range(300)}, work)
    steps = 0
    while not task.finished or steps < 20:
        record = state.step(f"s{steps % 8}")
        record.data.clear()  # as `down` rewrites a record: cleared, then refilled
        record.data["status"] = "running"
        for n in range(keys):
            record.outputs[f"k{n}"] = {"n": n, "text": "x" * 20}
            if n % 10 == 0:  # the engine's work between changes (a subprocess, a
                time.sleep(0)  # request) lets the workers run mid-change
        record.data["status"] = "done"
        state.save()
        steps += 1
    task.join(30)
    state.save()

    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(written) > 600  # two saves per item at least, and the engine's
    for payload in written:
        data = json.loads(payload)
        for name, step in data["steps"].items():
            assert (step["status"], len(step["outputs"])) == ("done", keys), name
    final = json.loads(state.path.read_text())
    assert len(final["steps"]) == 8
    items = final["tasks"]["images"]["items"]
    assert {v["status"] for v in items.values()} == {DONE} and len(items) == 300
