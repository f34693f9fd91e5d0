"""`down` then `up` hands a class the same passwords; `down --purge` does not."""

from __future__ import annotations

from tests.cli.run import mboxed


def cards() -> str:
    result = mboxed("users", "export", "--format", "csv")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_down_keeps_users_and_secrets_for_the_next_up_and_purge_drops_them() -> None:
    up = ("up", "--profile", "workshop", "--set", "users.generate.count=3", "--yes")
    assert mboxed(*up, "--only", "secrets", "--only", "users").returncode == 0
    before = cards()
    assert "student03" in before

    down = mboxed("down")
    assert down.returncode == 0, down.stderr
    assert "kept for the next up" in down.stdout
    status = mboxed("status")
    assert "users       undone" in status.stdout

    again = mboxed("up", "--yes", "--only", "secrets", "--only", "users")
    assert again.returncode == 0, again.stderr
    assert "↷ users:" in again.stdout and "↷ secrets:" in again.stdout
    assert cards() == before

    assert mboxed("down", "--purge").returncode == 0
    assert mboxed(*up, "--only", "secrets", "--only", "users").returncode == 0
    assert cards() != before  # new passwords after a purge
