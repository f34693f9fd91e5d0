"""The pull-policy values: every key set to IfNotPresent, the spawn timeout
raised, and a profile's own values still win."""

from __future__ import annotations

from pathlib import Path

from mboxed.sciencebox.pull_policy import (
    PULL_POLICY_PATHS,
    SPAWN_TIMEOUT,
    SPAWN_TIMEOUT_PATH,
    values_overlay,
)
from mboxed.sciencebox.values_text import get_path
from tests.sciencebox.test_values import full_values


def test_the_overlay_sets_every_key_and_the_spawn_timeout() -> None:
    overlay = values_overlay()
    assert {get_path(overlay, p) for p in PULL_POLICY_PATHS} == {"IfNotPresent"}
    assert get_path(overlay, "global.pullPolicy") == "IfNotPresent"
    assert get_path(overlay, SPAWN_TIMEOUT_PATH) == SPAWN_TIMEOUT >= 600
    assert len(set(PULL_POLICY_PATHS)) == len(PULL_POLICY_PATHS)


def test_the_values_carry_the_overlay_and_the_profile_still_wins(tmp_path: Path) -> None:
    values = full_values(tmp_path, "demo", "sciencebox.values.ldap.image.pullPolicy=Always")
    assert {get_path(values, p) for p in PULL_POLICY_PATHS if p != "ldap.image.pullPolicy"} == {
        "IfNotPresent"
    }
    assert get_path(values, "ldap.image.pullPolicy") == "Always"
    assert get_path(values, SPAWN_TIMEOUT_PATH) == SPAWN_TIMEOUT
