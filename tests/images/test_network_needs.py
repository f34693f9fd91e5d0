"""What still needs the internet at run time is named, per enabled component."""

from __future__ import annotations

from mboxed.cli.doctor import runtime_network_checks
from mboxed.images.network_needs import runtime_needs
from mboxed.profile import load_profile


def test_doctor_names_github_swan_help_and_cvmfs_for_the_demo() -> None:
    profile = load_profile("demo").profile
    [check] = runtime_network_checks(profile)
    assert check.id == "runtime-network" and check.status == "warn"
    for host in ("github.com", "raw.githubusercontent.com", "sft.cern.ch"):
        assert host in check.need
    assert "cernbox-web init container" in check.value and "CVMFS" in check.value


def test_a_profile_without_swan_does_not_name_cvmfs() -> None:
    profile = load_profile("demo", overrides=["sciencebox.components.swan=false"]).profile
    hosts = {h for need in runtime_needs(profile) for h in need.hosts}
    assert hosts == {"github.com"}
