from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from mboxed.errors import LockHeld, StateError
from mboxed.state import SCHEMA_VERSION, State, deployment_lock
from tests.tmpfs import fill, small_tmpfs


def test_missing_file_gives_an_empty_state_that_is_not_written_until_saved(
    tmp_path: Path,
) -> None:
    path = tmp_path / "d" / "state.yaml"
    state = State.load(path, "d")
    assert state.data["schema"] == SCHEMA_VERSION and state.data["steps"] == {}
    assert not path.exists()
    state.step("x").outputs["token"] = "abc"
    state.save()
    assert State.load(path, "d").outputs("x") == {"token": "abc"}
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("steps: [unclosed\n", "is corrupt"),
        ("just a string\n", "not an mboxed state"),
        ("schema: 1\nsteps: [1, 2]\n", "'steps' is not a mapping"),
        ("\x00\x01binary", "is corrupt"),
        (b"\xff\xfe random bytes", "is corrupt"),
        (b'{"schema": 1, \xff}', "is corrupt"),
    ],
)
def test_a_corrupt_file_is_reported_and_left_untouched(
    tmp_path: Path, content: str | bytes, needle: str
) -> None:
    path = tmp_path / "state.yaml"
    raw = content if isinstance(content, bytes) else content.encode()
    path.write_bytes(raw)
    with pytest.raises(StateError) as info:
        State.load(path, "default")
    assert needle in str(info.value) and str(path) in str(info.value)
    assert "mv " in info.value.hint
    assert path.read_bytes() == raw


def test_an_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.yaml"
    path.write_text("schema: 99\nsteps: {}\n")
    with pytest.raises(StateError, match="schema version 99"):
        State.load(path, "default")


def test_a_value_yaml_cannot_hold_fails_before_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "state.yaml"
    state = State.load(path, "default")
    state.save()
    before = path.read_text()
    state.step("x").outputs["bad"] = object()
    state.data["steps"]["x"]["outputs"]["bad"] = {1, 2}  # a set is not JSON
    with pytest.raises(TypeError):
        state.save()
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".state-")] == []


def _hold(
    path: str, ready: multiprocessing.synchronize.Event, release: multiprocessing.synchronize.Event
) -> None:
    with deployment_lock(Path(path), "up --profile demo"):
        ready.set()
        release.wait(20)


def test_the_lock_names_its_holder_and_is_freed_after(tmp_path: Path) -> None:
    lock = tmp_path / "d" / "lock"
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(str(lock), ready, release))
    holder.start()
    try:
        assert ready.wait(20)
        with pytest.raises(LockHeld) as info, deployment_lock(lock, "down"):
            pass
        assert f"pid {holder.pid}" in str(info.value)
        assert "up --profile demo" in str(info.value)
    finally:
        release.set()
        holder.join(20)
    with deployment_lock(lock, "down"):
        pass


def test_the_file_is_yaml_and_a_hand_edited_block_style_file_still_loads(
    tmp_path: Path,
) -> None:
    import yaml

    path = tmp_path / "state.yaml"
    state = State.load(path, "default")
    state.step("users").outputs["users"] = [{"name": "marie", "display": "Marie Skłodowska"}]
    state.save()
    text = path.read_text(encoding="utf-8")
    assert yaml.safe_load(text) == state.data
    assert "Skłodowska" in text  # readable, not \\u-escaped
    path.write_text(yaml.safe_dump(state.data), encoding="utf-8")
    assert State.load(path, "default").outputs("users") == state.outputs("users")


def test_an_alias_bomb_in_a_hand_edited_state_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.yaml"
    levels = "\n".join(f"      l{i}: &l{i} [*l{i - 1}, *l{i - 1}]" for i in range(1, 40))
    text = f"schema: 1\nsteps:\n  users:\n    outputs:\n      l0: &l0 [x, x]\n{levels}\n"
    path.write_text(text)
    with pytest.raises(StateError) as info:
        State.load(path, "default")
    assert str(path) in str(info.value) and "expand to" in str(info.value)
    assert "\n" not in str(info.value)
    assert path.read_text() == text


def test_a_full_disk_keeps_the_last_good_state_and_backup(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "fs") as root:
        path = root / "d" / "state.yaml"
        state = State.load(path, "d")
        state.step("secrets").outputs["token"] = "abc"
        state.save()
        state.save()  # the first save's file becomes the backup
        good, good_backup = path.read_bytes(), state.backup_path.read_bytes()
        fill(root)
        state.step("users").outputs["users"] = [{"name": f"student{i}"} for i in range(2000)]
        with pytest.raises(StateError) as info:
            state.save()
        assert str(info.value) == (
            f"cannot save the state file {path}: No space left on device (ENOSPC)"
        )
        assert "free some disk space" in info.value.hint
        assert path.read_bytes() == good
        assert state.backup_path.read_bytes() == good_backup
        assert state.backup_path.stat().st_mode & 0o777 == 0o600
        assert sorted(p.name for p in path.parent.iterdir()) == ["state.yaml", "state.yaml.bak"]
        assert State.load(path, "d").outputs("secrets") == {"token": "abc"}


def test_the_backup_is_the_previous_save_written_whole_and_0600(tmp_path: Path) -> None:
    path = tmp_path / "d" / "state.yaml"
    state = State.load(path, "d")
    state.save()
    first = path.read_bytes()
    path.chmod(0o644)  # as an older mboxed or a hand edit may have left it
    state.step("x").outputs["token"] = "abc"
    state.save()
    assert state.backup_path.read_bytes() == first
    assert state.backup_path.stat().st_mode & 0o777 == 0o600
    assert path.stat().st_mode & 0o777 == 0o600


def _good(**steps: object) -> dict[str, object]:
    return {"schema": 1, "deployment": "default", "steps": steps}


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (_good(users=[1, 2]), "steps.users: Input should be a valid dictionary (got [1, 2])"),
        (_good(users={"outputs": ["x"]}), "steps.users.outputs: Input should be a valid dict"),
        (_good(tls={"journal": 3}), "steps.tls.journal: Input should be a valid list (got 3)"),
        (_good(tls={"journal": [{"data": {}}]}), "steps.tls.journal.0.kind: Field required"),
        (_good(tls={"journal": [{"kind": "x", "data": []}]}), "steps.tls.journal.0.data: "),
        (_good(users={"outputs": {"users": {"a": 1}}}), "steps.users.outputs.users: Input should"),
        (_good(users={"outputs": {"users": [{"uid": 1}]}}), "steps.users.outputs.users.0.name"),
        (_good(x={"status": "finished"}), "steps.x.status: Input should be 'running'"),
        (_good(x={"duration": "long"}), "steps.x.duration: Input should be a valid number"),
        (_good(x={"colour": "red"}), "steps.x.colour: Extra inputs are not permitted"),
        ({**_good(), "schema": True}, "schema: not a version number (got True)"),
        ({**_good(), "last_run": "yesterday"}, "last_run: Input should be"),
        ({**_good(), "profile": {"name": 3}}, "profile.name: Input should be a valid string"),
        (
            _good(cluster={"outputs": {"hostname": "box.test", "https_port": "x"}}),
            "steps.cluster.outputs.https_port: Input should be a valid integer (got 'x')",
        ),
        (_good(cluster={"outputs": {"hostname": 5}}), "steps.cluster.outputs.hostname: "),
        (_good(tls={"outputs": {"ca_cert": ["a"]}}), "steps.tls.outputs.ca_cert: "),
    ],
)
def test_every_part_of_the_structure_is_checked_with_its_key_path(
    tmp_path: Path, data: dict[str, object], needle: str
) -> None:
    import json

    path = tmp_path / "state.yaml"
    path.write_text(json.dumps(data))
    with pytest.raises(StateError) as info:
        State.load(path, "default")
    assert str(info.value).startswith(f"state file {path} is corrupt: ")
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_json_nested_past_the_recursion_limit_is_corrupt_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "state.yaml"
    path.write_text('{"schema": 1, "steps": {"x": ' + "[" * 100_000 + "]" * 100_000 + "}}")
    with pytest.raises(StateError, match="is corrupt: nested too deeply"):
        State.load(path, "default")


def test_a_state_path_that_is_no_regular_file_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "state.yaml"
    os.mkfifo(path)  # reading a FIFO with no writer would wait forever
    with pytest.raises(StateError, match="is not a regular file"):
        State.load(path, "default")
    assert stat.S_ISFIFO(path.stat().st_mode)


def test_a_path_that_is_not_utf8_is_saved_and_read_back_the_same(tmp_path: Path) -> None:
    # what Python makes of a file name with a Latin-1 byte (os.fsdecode)
    name = os.fsdecode(b"/home/u/\xfcbung.yaml")
    state = State(tmp_path / "state.yaml", "default")
    state.data["profile"] = {"name": name, "files": [], "set": []}
    state.save()
    assert State.load(state.path, "default").data["profile"]["name"] == name
