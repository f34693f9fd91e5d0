"""Rosters: header rows, rows without a header, and bad rows refused with
their file and line."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mboxed.errors import MboxedError
from mboxed.sciencebox import accounts, roster


def test_roster_with_header_and_columns(tmp_path: Path) -> None:
    path = tmp_path / "class.csv"
    path.write_text(
        "Username,Full Name,Email\nalice,Alice Liddell,alice@uni.example\n\n# a comment\nbob,Bob,\n"
    )
    entries = roster.read_roster(path)
    assert [(e.name, e.display_name, e.email, e.row) for e in entries] == [
        ("alice", "Alice Liddell", "alice@uni.example", 2),
        ("bob", "Bob", "", 5),
    ]


def test_roster_header_with_columns_of_its_own_is_still_a_header() -> None:
    # an export of a registration system: the extra columns are ignored
    entries = roster.parse_roster("username,email,group\nalice,alice@uni.example,A\n", "c.csv")
    assert [(e.name, e.email, e.row) for e in entries] == [("alice", "alice@uni.example", 2)]
    entries = roster.parse_roster("Login,Notes\nbob,late\n", "c.csv")
    assert [(e.name, e.display_name) for e in entries] == [("bob", "")]


def test_roster_without_header_is_one_name_per_row() -> None:
    entries = roster.parse_roster("carol\ndave,Dave D\n")
    assert [e.name for e in entries] == ["carol", "dave"]
    assert entries[1].display_name == "Dave D"


@pytest.mark.parametrize(
    ("text", "row", "bad"),
    [
        ("username\nalice\nBob\n", 3, "'Bob'"),
        ("alice\n1st\n", 2, "'1st'"),
        ("alice\nal ice\n", 2, "'al ice'"),
        ("x" * 33 + "\n", 1, "x" * 33),
        ("alice\nmarie\n", 2, "classic demo"),
        ("alice\nalice\n", 2, "twice"),
        ("alice\nroot\n", 2, "reserved"),
        ("reva\n", 1, "reserved"),
        ("alice,Alice,not-an-email\n", 1, "e-mail"),
        ("username,password\nalice,short\n", 2, "shorter than 8"),
        ('username,password\nalice,"abcd\nefghijk"\n', 2, "has a line break"),
        ('username,display_name\nalice,Alice\n"Al\nice",Al\n', 3, "'Al\\nice'"),
    ],
)
def test_invalid_roster_rows_are_refused_naming_the_row(text: str, row: int, bad: str) -> None:
    with pytest.raises(MboxedError) as error:
        roster.parse_roster(text, "class.csv")
    assert f"class.csv:{row}:" in error.value.message
    assert bad in error.value.message


def test_missing_roster_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MboxedError, match=r"users.roster: .*does not exist"):
        roster.read_roster(tmp_path / "nope.csv")


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.text(alphabet=string.printable + "äöß€", max_size=40), max_size=15))
def test_any_roster_is_either_all_valid_names_or_refused_naming_its_row(rows: list[str]) -> None:
    text = "\n".join(row.replace("\r", " ").replace("\n", " ") for row in rows)
    try:
        entries = roster.parse_roster(text, "r.csv")
    except MboxedError as error:
        match = re.match(r"r\.csv:(\d+): ", error.message)
        assert match, error.message
        assert 1 <= int(match.group(1)) <= max(1, len(text.splitlines()))
        return
    assert len({e.name for e in entries}) == len(entries)
    for entry in entries:
        assert accounts.USER_NAME.match(entry.name) and entry.name not in accounts.RESERVED_NAMES
