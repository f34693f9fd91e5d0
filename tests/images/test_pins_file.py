"""A class's pins file: written sorted, read back the same, and refused
whole (naming the entry) when anything in it is not a pin."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mboxed.images.pins_file import PinsError, dump_pins, parse_pins, read_pins

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64


def test_written_pins_read_back_the_same_and_names_are_normalised(tmp_path: Path) -> None:
    pins = {"docker.io/library/busybox:1.36": A, "gitlab-registry.cern.ch/sb/eos:5.0": B}
    path = tmp_path / "pins.yaml"
    path.write_text(dump_pins(pins))
    assert read_pins(path) == pins
    short = "version: 1\npins:\n  busybox:1.36: " + A + "\n"
    assert parse_pins(short, "f") == {"docker.io/library/busybox:1.36": A}
    assert dump_pins({}) == "version: 1\npins: {}\n"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("pins: {}\n", "exactly the keys 'version' and 'pins'"),
        (f"version: 1\npins: {{}}\nextra: {A}\n", "exactly the keys"),
        ("version: 2\npins: {}\n", "version 2 (this mboxed reads 1)"),
        ("version: true\npins: {}\n", "version True"),
        ("version: 1\npins: [a]\n", "'pins' is not a mapping"),
        ("version: 1\npins:\n  busybox:1: sha256:abc\n", "is not a digest"),
        ("version: 1\npins:\n  busybox:1: 12\n", "12 is not a digest"),
        (f"version: 1\npins:\n  busybox@{A}: {A}\n", "has a digest already"),
        (f"version: 1\npins:\n  'library/UPPER:1': {A}\n", "pins.library/UPPER:1"),
        (f"version: 1\npins:\n  busybox:1: {A}\n  docker.io/library/busybox:1: {B}\n", "twice"),
        (f"version: 1\npins:\n  a:1: {A}\n  a:1: {B}\n", "duplicate key"),
        ("version: 1\npins: [\n", "not YAML"),
    ],
)
def test_anything_but_pins_is_refused_naming_it(text: str, says: str) -> None:
    with pytest.raises(PinsError) as refused:
        parse_pins(text, "class.yaml")
    assert refused.value.message.startswith("class.yaml: ")
    assert says in refused.value.message


def test_a_missing_file_says_who_writes_it(tmp_path: Path) -> None:
    with pytest.raises(PinsError, match="does not exist") as refused:
        read_pins(tmp_path / "nope.yaml")
    assert "mboxed images --pins FILE" in refused.value.hint


def test_a_pins_file_that_is_a_named_pipe_is_refused_without_waiting(tmp_path: Path) -> None:
    pipe = tmp_path / "pins.yaml"
    os.mkfifo(pipe)  # no writer: reading it would wait forever
    with pytest.raises(PinsError, match=r"images\.pins file .* is not a regular file"):
        read_pins(pipe)
