"""What the profile asks for, built directly for the user tests."""

from __future__ import annotations

from mboxed.sciencebox import allocation
from mboxed.sciencebox.roster import RosterEntry


def wanted(
    classic: bool = True,
    count: int = 0,
    prefix: str = "student",
    roster: tuple[RosterEntry, ...] = (),
    length: int = 12,
) -> allocation.Wanted:
    return allocation.Wanted(classic, roster, count, prefix, length)
