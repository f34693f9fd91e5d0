"""The one YAML loader for hand-written files: aliases within a bound, no
duplicate keys, no alias inside itself."""

from __future__ import annotations

import time

import pytest
import yaml

from mboxed import safeyaml


def mapping_bomb(levels: int = 30) -> str:
    lines = ["a0: &a0 {x: 1, y: 2}"]
    lines += [f"a{i}: &a{i} {{x: *a{i - 1}, y: *a{i - 1}}}" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def sequence_bomb(levels: int = 30) -> str:
    lines = ["- &a0 [lol, lol]"]
    lines += [f"- &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text", [mapping_bomb(), sequence_bomb()])
def test_an_alias_bomb_is_refused_at_once(text: str) -> None:
    started = time.monotonic()
    with pytest.raises(safeyaml.RefusedYaml) as info:
        safeyaml.load(text)
    assert time.monotonic() - started < 2
    problem = info.value.problem or ""
    assert "expand to over 10000" in problem and "write the values out" in problem


def test_a_few_aliases_are_fine() -> None:
    data, node = safeyaml.load("base: &b {cpu: 1, mem: 2}\nfst: *b\nmgm: *b\n")
    assert data == {"base": {"cpu": 1, "mem": 2}, "fst": {"cpu": 1, "mem": 2}, "mgm": data["fst"]}
    assert node is not None


def test_an_alias_inside_itself_is_refused() -> None:
    with pytest.raises(safeyaml.RefusedYaml, match="contains it"):
        safeyaml.load("a: &a [1, *a]\n")


def test_a_duplicate_key_is_refused_with_its_line() -> None:
    with pytest.raises(safeyaml.RefusedYaml) as info:
        safeyaml.load("provider:\n  cpus: 4\ngpu: false\nprovider:\n  cpus: 8\n")
    assert info.value.problem == "duplicate key 'provider'"
    assert info.value.problem_mark is not None and info.value.problem_mark.line == 3


def test_deep_nesting_is_a_yaml_error_not_a_crash() -> None:
    with pytest.raises(yaml.YAMLError, match="nest"):  # libyaml's limit, or ours
        safeyaml.load("[" * 100_000 + "]" * 100_000)


def test_empty_text_is_none() -> None:
    assert safeyaml.load("") == (None, None)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("cpus: " + "9" * 5000, "digits"),  # int() refuses over 4300 digits (CVE-2020-10735)
        ("when: 2024-02-30", "day is out of range"),  # a timestamp that is no date
    ],
)
def test_a_scalar_python_cannot_build_is_a_yaml_error_not_a_crash(text: str, needle: str) -> None:
    with pytest.raises(safeyaml.RefusedYaml) as info:
        safeyaml.load(text)
    assert needle in str(info.value.problem)
    assert info.value.problem_mark is not None and info.value.problem_mark.line == 0
