"""The guard in tests/conftest.py must really stop a test touching the real home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import REAL_HOME, REAL_STATE


def test_writing_under_the_real_home_fails() -> None:
    probe = REAL_HOME / "mboxed-guard-probe.txt"
    with pytest.raises(RuntimeError, match="real home"), open(probe, "w"):
        pass
    assert not probe.exists()


def test_reading_the_real_mboxed_state_fails() -> None:
    with pytest.raises(RuntimeError, match="real mboxed state"):
        open(REAL_STATE[0] / "default" / "state.yaml")  # noqa: SIM115


def test_paths_resolve_inside_the_test_home(isolated_home: Path) -> None:
    from mboxed.paths import Paths

    paths = Paths.from_env()
    assert paths.state_root.is_relative_to(Path(os.environ["MBOXED_HOME"]))
    assert not paths.state_root.is_relative_to(REAL_HOME)
