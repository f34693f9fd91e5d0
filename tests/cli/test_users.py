"""`mboxed users list|export` as a user runs it: a real `python -m mboxed` process."""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path

from tests.cli.run import mboxed, state_file


def up_workshop(count: int = 40) -> None:
    result = mboxed(
        "up", "--profile", "workshop", "--set", f"users.generate.count={count}",
        "--only", "users", "--yes",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout


def test_done_when_workshop_users_exported_as_csv() -> None:
    up_workshop(40)
    assert state_file().stat().st_mode & 0o777 == 0o600
    result = mboxed("users", "export", "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    students = [r for r in rows if r["username"].startswith("student")]
    assert len(students) == 40
    assert students[0]["username"] == "student01" and students[-1]["username"] == "student40"
    assert all(len(r["password"]) == 12 for r in students)
    assert len({r["password"] for r in students}) == 40
    assert {r["username"] for r in rows} >= {"einstein", "marie", "admin"}
    # the passwords never reached the log
    log = (state_file().parent / "mboxed.log").read_text()
    assert not any(r["password"] in log for r in students)


def test_export_to_a_missing_directory_is_an_error_not_a_crash(tmp_path: Path) -> None:
    up_workshop(1)
    result = mboxed("users", "export", "-o", str(tmp_path / "no-such-dir" / "class.csv"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "bug" not in result.stderr
    assert "error: --output: cannot write" in result.stderr
    assert "No such file or directory" in result.stderr


def test_export_html_is_one_card_per_user(tmp_path: Path) -> None:
    up_workshop(3)
    out = tmp_path / "cards.html"
    result = mboxed("users", "export", "--format", "html", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert text.count('<section class="card">') == 6 - 1 + 3  # reva is a service identity
    csv_rows = list(csv.DictReader(io.StringIO(mboxed("users", "export").stdout)))
    for row in csv_rows:
        if row["username"] != "reva":
            assert f"<dd>{html.escape(row['password'])}</dd>" in text
    assert "Marie Skłodowska Curie" in text
    assert "page-break-inside: avoid" in text


def test_list_shows_passwords_unless_hidden() -> None:
    up_workshop(2)
    shown = mboxed("users", "list")
    assert shown.returncode == 0, shown.stderr
    assert "einstein" in shown.stdout and "relativity" in shown.stdout
    assert "8 users" in shown.stdout
    hidden = mboxed("users", "list", "--hide-passwords")
    assert "relativity" not in hidden.stdout and "einstein" in hidden.stdout


def test_users_before_up_is_a_clear_error() -> None:
    result = mboxed("users", "list")
    assert result.returncode == 1
    assert "has no users yet" in result.stderr
    assert "mboxed up" in result.stderr
