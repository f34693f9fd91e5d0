"""scripts/mboxed on this machine for real: venv, install, link, run."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


WHEELHOUSE = os.environ.get("MBOXED_TEST_WHEELHOUSE")


@pytest.mark.skipif(
    not WHEELHOUSE,
    reason="needs the dependency wheelhouse that scripts/test builds (MBOXED_TEST_WHEELHOUSE)",
)
def test_bootstrap_installs_once_links_and_runs(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    shutil.copytree(
        REPO,
        checkout,
        ignore=shutil.ignore_patterns(".git", ".venv*", "__pycache__", "*.egg-info", "build"),
    )
    env = {
        **os.environ,
        "MBOXED_VENV": str(tmp_path / "venv"),
        "MBOXED_BIN_DIR": str(tmp_path / "bin"),
        # Loopback only: pip installs from the wheelhouse, never from an index.
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(WHEELHOUSE),
    }
    first = subprocess.run(
        [str(checkout / "scripts" / "mboxed"), "profiles", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert first.returncode == 0, first.stderr
    assert "installing mboxed from" in first.stderr
    assert first.stdout.split()[0] == "ci"
    link = tmp_path / "bin" / "mboxed"
    assert link.resolve() == (tmp_path / "venv" / "bin" / "mboxed").resolve()
    # The installed copy carries the shipped profiles (not read from the checkout).
    installed = subprocess.run(
        [str(link), "profiles", "show", "workshop"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert installed.returncode == 0 and "count: 20" in installed.stdout
    found = list((tmp_path / "venv").glob("lib/python*/site-packages/mboxed/profiles/demo.yaml"))
    assert len(found) == 1
    again = subprocess.run(
        [str(checkout / "scripts" / "mboxed"), "--version"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert again.returncode == 0 and "mboxed, version" in again.stdout
    assert "installing" not in again.stderr
