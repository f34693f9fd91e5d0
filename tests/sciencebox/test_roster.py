"""Rosters: header rows, rows without a header, and bad rows refused with
their file and line."""

from __future__ import annotations

import os
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


ACCEPTED = ("username", "display_name", "email", "password")


@pytest.mark.parametrize(
    "first_row",
    ["foo,bar", "student,group", "first-name,last-name", "vorname,nachname,notiz", "Student Name"],
)
def test_a_first_row_of_unknown_column_names_is_refused_listing_the_accepted_columns(
    first_row: str,
) -> None:
    # These are headers nobody taught the reader: before, `foo,bar` made a
    # user `foo` (display name "bar") with a password.
    with pytest.raises(MboxedError) as error:
        roster.parse_roster(f"# the class\n{first_row}\nalice,Alice\n", "class.csv")
    assert error.value.message.startswith(
        "class.csv:2: neither a header of known columns nor a user row: "
    ), error.value.message
    assert all(column in (error.value.hint or "") for column in ACCEPTED)


@pytest.mark.parametrize("header", ["fullname,mail", "Full Name,E-Mail,Password"])
def test_a_header_of_known_columns_without_a_user_name_is_refused(header: str) -> None:
    with pytest.raises(MboxedError) as error:
        roster.parse_roster(f"{header}\nAlice Liddell,alice@uni.example\n", "class.csv")
    assert error.value.message.startswith("class.csv:1: the header names no user name column")
    assert all(column in (error.value.hint or "") for column in ACCEPTED)


def test_a_header_naming_the_user_name_column_twice_is_refused() -> None:
    # `uid` could as well be a numeric uid column: which one is meant is not guessed
    with pytest.raises(MboxedError) as error:
        roster.parse_roster("username,uid,email\nann,20100,ann@uni.example\n", "class.csv")
    assert error.value.message == (
        "class.csv:1: 'username' and 'uid' both name the user name column"
    )


def test_header_columns_are_known_by_meaning_in_any_order_and_spelling() -> None:
    text = "E-Mail,Display Name,User Name\nann@uni.example,Ann Example,ann\n"
    entries = roster.parse_roster(text, "c.csv")
    assert [(e.name, e.display_name, e.email, e.row) for e in entries] == [
        ("ann", "Ann Example", "ann@uni.example", 2)
    ]


@pytest.mark.parametrize(
    "first_row",
    ["carol", "dave,Dave D", "bob,Bob,bob@uni.example", "zoe,Zoë", "ann,ann,ann@uni.example",
     "eve,,eve@uni.example", "user,User,user@uni.example"],
)  # fmt: skip
def test_a_first_row_that_is_a_user_is_read_as_one(first_row: str) -> None:
    entries = roster.parse_roster(f"{first_row}\nfrank\n", "c.csv")
    assert [(e.name, e.row) for e in entries] == [(first_row.split(",")[0], 1), ("frank", 2)]


@settings(max_examples=150, deadline=None)
@given(
    words=st.lists(st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True), min_size=2, max_size=5)
)
def test_a_first_row_of_lowercase_words_never_becomes_a_user(words: list[str]) -> None:
    try:
        entries = roster.parse_roster(",".join(words) + "\nalice\n", "c.csv")
    except MboxedError:
        return
    assert all(entry.row != 1 for entry in entries)


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


def test_a_row_the_csv_module_refuses_is_an_error_naming_the_line() -> None:
    # a display name over csv's field_size_limit (131072 characters)
    text = "username,display_name\nalice,bob\ncarol," + "x" * 200_000 + "\n"
    with pytest.raises(MboxedError, match=r"^r\.csv:3: not a CSV row: field larger than"):
        roster.parse_roster(text, "r.csv")


def test_a_roster_that_is_a_named_pipe_is_refused_without_waiting(tmp_path: Path) -> None:
    pipe = tmp_path / "roster.csv"
    os.mkfifo(pipe)  # no writer: reading it would wait forever
    with pytest.raises(MboxedError, match=r"users\.roster file .* is not a regular file"):
        roster.read_roster(pipe)
