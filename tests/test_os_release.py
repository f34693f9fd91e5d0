"""The OS release: /etc/os-release and `sw_vers` parsed from captured real
output, the family and support verdict, and this host's release read for real."""

from __future__ import annotations

from pathlib import Path

import pytest

from mboxed.os_release import (
    OsRelease,
    os_supported,
    parse_os_release,
    parse_sw_vers,
    read_os_release,
)

DEBIAN_12 = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"""
UBUNTU_2204 = """\
PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
ID=ubuntu
ID_LIKE=debian
"""
FEDORA_40 = """\
NAME="Fedora Linux"
VERSION="40 (Workstation Edition)"
ID=fedora
VERSION_ID=40
PRETTY_NAME="Fedora Linux 40 (Workstation Edition)"
"""
ROCKY_9 = """\
NAME="Rocky Linux"
VERSION="9.4 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"
"""
ARCH = 'NAME="Arch Linux"\nID=arch\nBUILD_ID=rolling\nPRETTY_NAME="Arch Linux"\n'
# `sw_vers` on macOS 14
SW_VERS = "ProductName:\t\tmacOS\nProductVersion:\t\t14.5\nBuildVersion:\t\t23F79\n"


@pytest.mark.parametrize(
    ("text", "id_", "family", "version", "status"),
    [
        (DEBIAN_12, "debian", "debian", (12,), "ok"),
        (UBUNTU_2204, "ubuntu", "debian", (22, 4), "ok"),
        (FEDORA_40, "fedora", "rhel", (40,), "ok"),
        (ROCKY_9, "rocky", "rhel", (9, 4), "ok"),
        (ARCH, "arch", "other", (), "warn"),
    ],
)
def test_parse_os_release(
    text: str, id_: str, family: str, version: tuple[int, ...], status: str
) -> None:
    release = parse_os_release(text)
    assert (release.id, release.family, release.version) == (id_, family, version)
    assert os_supported(release)[0] == status


def test_old_releases_are_a_warning_naming_the_minimum() -> None:
    status, why = os_supported(OsRelease("ubuntu", "18.04", ("debian",), "Ubuntu 18.04.6 LTS"))
    assert status == "warn" and "older than ubuntu 20.4" in why


def test_derivative_is_named_by_what_it_is_like() -> None:
    status, why = os_supported(OsRelease("linuxmint", "21.3", ("ubuntu", "debian"), "Mint"))
    assert status == "warn" and "like ubuntu" in why


def test_parse_sw_vers() -> None:
    release = parse_sw_vers(SW_VERS)
    assert (release.id, release.version, release.family) == ("macos", (14, 5), "macos")


def test_read_os_release_without_running_anything(tmp_path: Path) -> None:
    (tmp_path / "os-release").write_text(FEDORA_40)
    assert read_os_release("linux", tmp_path / "os-release").id == "fedora"
    missing = read_os_release("linux", tmp_path / "absent")
    assert (missing.id, missing.family) == ("linux", "other")
    assert read_os_release("darwin").family == "macos"
