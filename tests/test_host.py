"""Host facts: the pure parsers on captured real output, and the readers on
this machine for real."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mboxed.host import (
    cgroup_version,
    download_hosts,
    existing_ancestor,
    free_disk_mib,
    gather,
    invoking_user,
    listening_ports,
    normalize_arch,
    package_manager,
    parse_cgroup_cpu_max,
    parse_meminfo,
    parse_proc_net_tcp,
    port_busy,
    probe_host,
    read_host,
    user_in_group,
)
from mboxed.os_release import parse_os_release
from mboxed.pins import PINNED
from mboxed.shell import Shell
from tests.file_server import FileServer

# Captured from this machine's /proc/meminfo (head) and /proc/net/tcp.
MEMINFO = "MemTotal:       24683656 kB\nMemFree:        22980336 kB\nMemAvailable:   24039836 kB\n"
PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:A7C3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 65876 1
   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 64492 1
   2: 0100007F:A7C3 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 64493 1
"""


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


def test_download_hosts_are_the_pinned_ones_or_the_mirror() -> None:
    assert download_hosts(None) == ["dl.k8s.io", "get.helm.sh", "github.com"]
    assert {h.split("/")[2] for h in (r.url for r in PINNED.values())} == set(download_hosts(None))
    assert download_hosts("http://10.0.0.5:8080/mboxed") == ["10.0.0.5:8080"]


@pytest.fixture
def mirror() -> Any:
    with FileServer() as server:
        yield server


def test_gather_reads_this_host(mirror: FileServer) -> None:
    snap = gather(Shell(), mirror.url)
    assert snap.host.cpus >= 1 and snap.host.mem_total_mib > 0
    assert snap.disk_free_mib > 0
    assert set(snap.ports_busy) == {80, 443}
    assert snap.reach == {mirror.url.split("//")[1]: ""}


def test_an_unreachable_download_host_says_why() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert probe_host(f"127.0.0.1:{port}") == "Connection refused"
    snap = gather(Shell(), f"http://127.0.0.1:{port}", network=True)
    assert snap.reach == {f"127.0.0.1:{port}": "Connection refused"}
    assert gather(Shell(), f"http://127.0.0.1:{port}", network=False).reach == {}
