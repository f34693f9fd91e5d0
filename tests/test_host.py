"""Host facts: the pure parsers on captured real output, and the readers on
this machine for real."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from mboxed.host import (
    OsRelease,
    cgroup_version,
    existing_ancestor,
    free_disk_mib,
    invoking_user,
    listening_ports,
    normalize_arch,
    os_supported,
    package_manager,
    parse_cgroup_cpu_max,
    parse_meminfo,
    parse_os_release,
    parse_proc_net_tcp,
    parse_sw_vers,
    port_busy,
    read_host,
    user_in_group,
)
from mboxed.shell import Shell

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
# Captured from this machine's /proc/meminfo (head) and /proc/net/tcp.
MEMINFO = "MemTotal:       24683656 kB\nMemFree:        22980336 kB\nMemAvailable:   24039836 kB\n"
PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:A7C3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 65876 1
   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 64492 1
   2: 0100007F:A7C3 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 64493 1
"""


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


@pytest.mark.parametrize(
    ("machine", "arch"),
    [("x86_64", "amd64"), ("aarch64", "arm64"), ("arm64", "arm64"), ("ppc64le", "ppc64le")],
)
def test_normalize_arch(machine: str, arch: str) -> None:
    assert normalize_arch(machine) == arch


def test_parse_meminfo() -> None:
    assert parse_meminfo(MEMINFO) == (24105, 23476)


@pytest.mark.parametrize(
    ("text", "online", "cpus"),
    [("max 100000", 8, 8), ("200000 100000", 8, 2), ("150000 100000", 8, 2), ("1 100000", 8, 1)],
)
def test_parse_cgroup_cpu_max(text: str, online: int, cpus: int) -> None:
    assert parse_cgroup_cpu_max(text, online) == cpus


def test_parse_proc_net_tcp_listening_only() -> None:
    assert parse_proc_net_tcp(PROC_NET_TCP) == {0xA7C3, 80}


def test_a_port_someone_listens_on_is_busy_for_real() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert port_busy(port)
        ports = listening_ports()
        assert ports is None or port in ports
    assert not port_busy(port)


def test_package_manager_prefers_the_one_of_the_os_family() -> None:
    def which(found: set[str]) -> Callable[[str], str | None]:
        return lambda name: f"/usr/bin/{name}" if name in found else None

    assert package_manager(which({"apt-get", "brew"}), "debian") == "apt"
    assert package_manager(which({"apt-get", "dnf"}), "rhel") == "dnf"
    assert package_manager(which({"brew"}), "debian") == "brew"
    assert package_manager(which(set()), "debian") is None


def test_invoking_user_is_sudo_user_under_sudo() -> None:
    assert invoking_user({"SUDO_USER": "alice"}) == "alice"
    assert invoking_user({"SUDO_USER": "root"}) == invoking_user({})


def test_group_membership_from_the_group_database() -> None:
    # root's primary group is root on every Linux
    assert user_in_group("root", "root")
    assert not user_in_group("root", "no-such-group-mboxed")


def test_cgroup_version_of_a_tree(tmp_path: Path) -> None:
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cgroup.controllers").write_text("cpu memory")
    v1 = tmp_path / "v1"
    (v1 / "memory").mkdir(parents=True)
    assert cgroup_version(v2) == 2
    assert cgroup_version(v1) == 1
    assert cgroup_version(tmp_path / "absent") is None


def test_disk_of_a_path_that_does_not_exist_yet(tmp_path: Path) -> None:
    missing = tmp_path / "docker" / "data"
    assert existing_ancestor(missing) == tmp_path
    assert free_disk_mib(missing) > 0


def test_read_host_for_real() -> None:
    host = read_host(Shell())
    assert host.os in ("linux", "darwin")
    assert host.arch in ("amd64", "arm64")
    assert host.cpus >= 1 and host.cpus <= (os.cpu_count() or 1)
    assert host.mem_total_mib > 0
    assert host.platform == f"{host.os}/{host.arch}"
    if Path("/etc/os-release").exists():
        assert host.release.id == parse_os_release(Path("/etc/os-release").read_text()).id
