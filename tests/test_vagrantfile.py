"""The teaching VM's Vagrantfile parses, and provisions with the README's command."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

VAGRANTFILE = Path(__file__).resolve().parent.parent / "Vagrantfile"


@pytest.mark.skipif(shutil.which("ruby") is None, reason="ruby is not installed")
def test_vagrantfile_is_valid_ruby() -> None:
    result = subprocess.run(
        ["ruby", "-c", str(VAGRANTFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "Syntax OK" in result.stdout


@pytest.mark.skipif(shutil.which("vagrant") is None, reason="vagrant is not installed")
def test_vagrant_validate(tmp_path: Path) -> None:
    result = subprocess.run(
        ["vagrant", "validate"],
        cwd=VAGRANTFILE.parent,
        capture_output=True,
        text=True,
        timeout=300,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "VAGRANT_HOME": str(tmp_path / "v")},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_vm_runs_the_main_command_with_room_for_the_demo() -> None:
    text = VAGRANTFILE.read_text()
    assert 'config.vm.box = "bento/ubuntu-24.04"' in text
    assert "./scripts/mboxed up --profile demo --yes" in text
    assert 'forwarded_port", guest: 443' in text
    assert (Path(__file__).resolve().parent.parent / "scripts" / "mboxed").exists()
