"""What still needs the internet at run time is named, per enabled component."""

from __future__ import annotations

from mboxed.cli.doctor import runtime_network_checks
from mboxed.images.network_needs import runtime_needs
from mboxed.profile import load_profile


def test_doctor_names_swan_help_and_cvmfs_for_the_demo_not_cernbox_web() -> None:
    profile = load_profile("demo").profile
    [check] = runtime_network_checks(profile)
    assert check.id == "runtime-network" and check.status == "warn"
    for host in ("raw.githubusercontent.com", "sft.cern.ch"):
        assert host in check.need
    assert "CVMFS" in check.value
    # cernbox-web's assets are served from the cluster (step web-assets)
    assert "github.com" not in check.need.replace("raw.githubusercontent.com", "")
    assert "cernbox-web" not in check.value


def test_a_profile_without_swan_has_no_runtime_need() -> None:
    profile = load_profile("demo", overrides=["sciencebox.components.swan=false"]).profile
    assert runtime_needs(profile) == []
