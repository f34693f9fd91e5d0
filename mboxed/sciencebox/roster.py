"""Read a class roster (the profile's `users.roster`, a CSV file) into
checked rows, each naming the file line it came from."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mboxed.errors import MboxedError
from mboxed.paths import read_named_file
from mboxed.sciencebox.accounts import CLASSIC_NAMES, USER_NAME, check_name


@dataclass(frozen=True)
class RosterEntry:
    name: str
    display_name: str
    email: str
    password: str
    row: int


# The columns a header row may name, each under the names a spreadsheet or a
# registration system's export gives it (compared in lower case, with spaces
# and '-' read as '_'). The first name is the one messages use.
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("username", "user_name", "user", "login", "uid", "name"),
    "display_name": ("display_name", "displayname", "full_name", "fullname"),
    "email": ("email", "e_mail", "mail"),
    "password": ("password",),
}
_COLUMN_OF = {alias: key for key, aliases in COLUMNS.items() for alias in aliases}
_LABELS = {
    "name": "user name", "display_name": "display name", "email": "e-mail", "password": "password"
}  # fmt: skip
# Without a header: a user name, then optionally a display name and an e-mail.
_POSITIONAL = {"name": 0, "display_name": 1, "email": 2}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# A cell shaped like a column name (one lower-case word), which a display
# name hardly ever is: "bar" in `foo,bar` is a header, "Dave D" is a person.
_COLUMN_LIKE = re.compile(r"[a-z][a-z0-9_.-]*")
_FORMATS = (
    "a header row names its columns: "
    + "; ".join(f"{aliases[0]} (or {', '.join(aliases[1:])})" if len(aliases) > 1
                else aliases[0] for aliases in COLUMNS.values())
    + " (case, spaces and '-' do not matter; other columns are ignored). Without a "
    "header, every row is a user: a user name, "
    "then optionally a display name and an e-mail address"
)  # fmt: skip


def _column(cell: str) -> str:
    """The column a header cell names, or "" when it names none we know."""
    return _COLUMN_OF.get(re.sub(r"[\s-]+", "_", cell.lower()), "")


def _header(cells: list[str], where: str) -> dict[str, int] | None:
    """The columns of a roster's first row, or None when the row is a user.

    Decided by what the row means: it is a header when it names a known
    column and holds no e-mail address; it is a user when it reads as one
    (see _not_a_user). Anything else is refused: a header the reader does
    not know must not become a user with a password."""
    if any(_column(c) for c in cells) and not any("@" in c for c in cells):
        columns: dict[str, int] = {}
        for index, cell in enumerate(cells):
            key = _column(cell)
            if key in columns:
                first = cells[columns[key]]
                raise MboxedError(
                    f"{where}: {first!r} and {cell!r} both name the {_LABELS[key]} column",
                    hint="keep one of them, or rename the other",
                )
            if key:
                columns[key] = index
        if "name" not in columns:
            raise MboxedError(
                f"{where}: the header names no {_LABELS['name']} column", hint=_FORMATS
            )
        return columns
    problem = _not_a_user(cells)
    if problem:
        raise MboxedError(
            f"{where}: neither a header of known columns nor a user row: {problem}", hint=_FORMATS
        )
    return None


def _not_a_user(cells: list[str]) -> str:
    """Why a first row without known column names is no user row ("" if it is one)."""
    name = cells[0]
    if not USER_NAME.match(name):
        return f"{name!r} is not a valid user name"
    has_email = any("@" in c for c in cells)
    if len(cells) > 1 and not has_email and _COLUMN_LIKE.fullmatch(cells[1]):
        return f"{cells[1]!r} looks like a column name, not a display name"
    if len(cells) > 2 and cells[2] and not _EMAIL.fullmatch(cells[2]):
        return f"{cells[2]!r} is not an e-mail address"
    return ""


def parse_roster(text: str, source: str = "roster") -> list[RosterEntry]:
    """Rows of a roster CSV.

    The first row is a header when it names known columns (`COLUMNS`; others
    are ignored), a user when it reads as one, and refused otherwise. Without
    a header: username, then optional display name, email. Blank lines and
    lines starting with '#' are skipped.
    """
    reader = csv.reader(io.StringIO(text))
    entries: list[RosterEntry] = []
    columns: dict[str, int] | None = None
    first = True
    seen: dict[str, int] = {}
    ended = 0  # the line the previous row ended on
    for row in _rows(reader, source):
        # the line the row starts on (a quoted field may span lines)
        number, ended = ended + 1, reader.line_num
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        where = f"{source}:{number}"
        if first:
            first = False
            columns = _header(cells, where)
            if columns is not None:
                continue
        entries.append(_entry(cells, columns or _POSITIONAL, where, number, seen))
    return entries


def _rows(reader: Any, source: str) -> Iterator[list[str]]:
    """The reader's rows; what the csv module refuses (a field over its
    131072-character limit, a NUL) is an error naming the line."""
    try:
        yield from reader
    except csv.Error as exc:
        raise MboxedError(f"{source}:{reader.line_num}: not a CSV row: {exc}") from None


def _entry(
    cells: list[str], columns: dict[str, int], where: str, number: int, seen: dict[str, int]
) -> RosterEntry:
    """One user row, checked; `seen` maps the names so far to their lines."""

    def cell(key: str) -> str:
        index = columns.get(key)
        return cells[index] if index is not None and index < len(cells) else ""

    name = check_name(cell("name"), where)
    if name in CLASSIC_NAMES:
        raise MboxedError(
            f"{where}: {name!r} is one of the classic demo users",
            hint="rename the row, or set users.preset: none",
        )
    if name in seen:
        raise MboxedError(f"{where}: {name!r} appears twice (first on row {seen[name]})")
    seen[name] = number
    email = cell("email")
    if email and not _EMAIL.fullmatch(email):
        raise MboxedError(f"{where}: {email!r} is not an e-mail address")
    display = cell("display_name")
    if any(ch in display for ch in "\r\n\x00"):
        raise MboxedError(f"{where}: the display name has a line break")
    pw = cell("password")
    if any(ch in pw for ch in "\r\n\x00"):
        raise MboxedError(f"{where}: the password of {name!r} has a line break")
    if pw and len(pw) < 8:
        raise MboxedError(
            f"{where}: the password of {name!r} is shorter than 8 characters",
            hint="leave the password column empty to have one generated",
        )
    return RosterEntry(name, display, email, pw, number)


def read_roster(path: str | Path) -> list[RosterEntry]:
    # A named pipe (`<(...)`) would be read once, or wait for a writer
    # forever: every later run reads the roster again.
    file, text = read_named_file(
        path,
        "users.roster",
        kind="CSV file",
        encoding="utf-8-sig",
        missing_hint="give the path of a CSV file with one user name per row",
    )
    return parse_roster(text, str(file))
