"""Read a class roster (the profile's `users.roster`, a CSV file) into
checked rows, each naming the file line it came from."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from mboxed.errors import MboxedError
from mboxed.sciencebox.accounts import CLASSIC_NAMES, check_name


@dataclass(frozen=True)
class RosterEntry:
    name: str
    display_name: str
    email: str
    password: str
    row: int


_HEADER_ALIASES = {
    "username": "name",
    "user": "name",
    "uid": "name",
    "login": "name",
    "name": "name",
    "display_name": "display_name",
    "displayname": "display_name",
    "full_name": "display_name",
    "fullname": "display_name",
    "email": "email",
    "mail": "email",
    "password": "password",
}


def parse_roster(text: str, source: str = "roster") -> list[RosterEntry]:
    """Rows of a roster CSV.

    With a header row, the columns are named (username/uid/login, display_name,
    email, password; others are ignored). Without one: username, then optional
    display name, email. Blank lines and lines starting with '#' are skipped.
    """
    reader = csv.reader(io.StringIO(text))
    entries: list[RosterEntry] = []
    columns: dict[str, int] | None = None
    seen: dict[str, int] = {}
    ended = 0  # the line the previous row ended on
    for row in reader:
        # the line the row starts on (a quoted field may span lines)
        number, ended = ended + 1, reader.line_num
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if columns is None and not entries:
            names = [_HEADER_ALIASES.get(c.lower().replace(" ", "_"), "") for c in cells]
            if "name" in names and cells[0].lower() not in seen:
                # A header may carry columns of its own (group, notes, …), which
                # are ignored; a first data row is told apart by its e-mail.
                header_like = not any("@" in c for c in cells)
                if header_like:
                    columns = {n: i for i, n in enumerate(names) if n}
                    continue
        cols = columns or {"name": 0, "display_name": 1, "email": 2}

        def cell(key: str, cells: list[str] = cells, cols: dict[str, int] = cols) -> str:
            index = cols.get(key)
            return cells[index] if index is not None and index < len(cells) else ""

        where = f"{source}:{number}"
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
        if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
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
        entries.append(RosterEntry(name, display, email, pw, number))
    return entries


def read_roster(path: str | Path) -> list[RosterEntry]:
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MboxedError(
            f"users.roster: {file} does not exist",
            hint="give the path of a CSV file with one user name per row",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MboxedError(f"users.roster: cannot read {file}: {exc}") from None
    return parse_roster(text, str(file))
