"""The host checks as a table (a Snapshot and a profile in, coded checks out),
and on this host for real (downloads probed only on 127.0.0.1)."""

from __future__ import annotations

import socket
from dataclasses import replace
from typing import Any

import pytest

from mboxed.docker_engine import DockerProbe
from mboxed.host import HostFacts, Snapshot, gather
from mboxed.host_checks import STATUSES, Check, evaluate
from mboxed.os_release import OsRelease
from mboxed.profile import load_profile
from mboxed.shell import Shell

HOST = HostFacts(
    os="linux",
    arch="amd64",
    release=OsRelease("debian", "12", (), "Debian GNU/Linux 12 (bookworm)"),
    cpus=8,
    mem_total_mib=32 * 1024,
    mem_available_mib=30 * 1024,
    is_root=False,
    user="alice",
    package_manager="apt",
    systemd=True,
)
DOCKER_UP = DockerProbe(
    "unix:///var/run/docker.sock",
    cli="/usr/bin/docker",
    daemon="/usr/bin/dockerd",
    reachable=True,
    server_version="27.3.1",
    storage_driver="overlay2",
    cgroup_driver="systemd",
    cgroup_version="2",
    root_dir="/var/lib/docker",
)
GOOD = Snapshot(
    host=HOST,
    disk_path="/var/lib/docker",
    disk_free_mib=200 * 1024,
    ports_busy={80: False, 443: False},
    fuse=True,
    kvm=True,
    inotify_watches=524288,
    inotify_instances=512,
    cgroup=2,
    docker=DOCKER_UP,
    docker_group=True,
    sudo="passwordless",
    reach={"dl.k8s.io": "", "get.helm.sh": "", "github.com": ""},
)


def profile(*overrides: str) -> Any:
    return load_profile("demo", overrides=list(overrides)).profile


def by_id(checks: list[Check]) -> dict[str, Check]:
    return {c.id: c for c in checks}


def test_a_good_laptop_passes_every_check() -> None:
    checks = evaluate(GOOD, profile())
    assert {c.status for c in checks} == {"ok"}
    assert [c.id for c in checks] == [
        "os", "arch", "cpu", "memory", "disk", "port-80", "port-443", "fuse", "inotify",
        "cgroup", "docker-installed", "docker-running", "docker-access", "sudo", "network",
    ]  # fmt: skip
    for check in checks:
        assert check.status in STATUSES and check.value and check.need


@pytest.mark.parametrize(
    ("change", "overrides", "check_id", "status", "fix_part"),
    [
        ({"host": replace(HOST, cpus=2)}, (), "cpu", "fail", "--set provider.cpus=2"),
        ({"host": replace(HOST, cpus=2)}, ("provider.name=kind",), "cpu", "warn", "cpus=2"),
        ({"host": replace(HOST, mem_total_mib=6144)}, (), "memory", "fail", "provider.memory"),
        ({"host": replace(HOST, mem_total_mib=9216)}, (), "memory", "warn", "close other"),
        ({"disk_free_mib": 10 * 1024}, (), "disk", "fail", "docker system prune"),
        ({"disk_free_mib": 30 * 1024}, (), "disk", "warn", "lower provider.disk"),
        ({"host": replace(HOST, arch="ppc64le")}, (), "arch", "fail", "amd64 or arm64"),
        ({"host": replace(HOST, os="windows")}, (), "os", "fail", "Linux VM"),
        ({"fuse": False}, (), "fuse", "warn", "modprobe fuse"),
        ({"inotify_watches": 8192}, (), "inotify", "warn", "max_user_watches=524288"),
        ({"cgroup": 1}, (), "cgroup", "warn", "unified_cgroup_hierarchy"),
        ({"sudo": "password"}, (), "sudo", "warn", "sudo will ask"),
        ({"sudo": "missing"}, (), "sudo", "warn", "install sudo"),
        ({"ports_busy": {80: True, 443: False}}, ("provider.name=kind",), "port-80", "warn",
         "ss -ltnp"),
        ({"kvm": False}, ("provider.driver=kvm2",), "virt", "fail", "VT-x"),
        ({"reach": {"dl.k8s.io": "does not resolve"}}, (), "network", "warn", "--mirror"),
    ],
)  # fmt: skip
def test_each_check_fails_or_warns_with_a_fix(
    change: dict[str, Any], overrides: tuple[str, ...], check_id: str, status: str, fix_part: str
) -> None:
    check = by_id(evaluate(replace(GOOD, **change), profile(*overrides)))[check_id]
    assert check.status == status
    assert fix_part in check.fix


def test_busy_ports_only_cost_minikube_with_docker_the_host_address() -> None:
    checks = by_id(evaluate(replace(GOOD, ports_busy={80: True, 443: False}), profile()))
    assert checks["port-80"].status == "warn"
    assert checks["port-80"].value == "in use"
    assert "(optional)" in checks["port-80"].need
    assert "minikube IP only" in checks["port-80"].fix
    assert checks["port-443"].status == "ok" and checks["port-443"].fix == ""


def test_ports_do_not_matter_to_a_minikube_vm() -> None:
    snap = replace(GOOD, ports_busy={80: True, 443: True})
    checks = by_id(evaluate(snap, profile("provider.driver=kvm2")))
    assert checks["port-80"].status == "ok"
    assert checks["port-80"].need == "not needed by minikube (kvm2 driver)"


def test_docker_checks_say_what_up_will_do() -> None:
    absent = DockerProbe("unix:///var/run/docker.sock", error="no Docker socket")
    checks = by_id(evaluate(replace(GOOD, docker=absent), profile()))
    assert checks["docker-installed"].status == "warn"
    assert "step docker" in checks["docker-installed"].fix
    assert checks["docker-running"].value == "no Docker socket"
    denied = replace(DOCKER_UP, reachable=False, error="permission denied on the Docker socket")
    checks = by_id(evaluate(replace(GOOD, docker=denied, docker_group=False), profile()))
    assert checks["docker-running"].status == "ok"
    assert checks["docker-access"].value == "alice is not in the docker group"
    checks = by_id(evaluate(replace(GOOD, docker=denied, docker_group=True), profile()))
    assert "newgrp docker" in checks["docker-access"].fix


def test_existing_cluster_needs_nothing_local() -> None:
    poor = replace(GOOD, host=replace(HOST, cpus=1, mem_total_mib=1024), disk_free_mib=100)
    checks = by_id(evaluate(poor, profile("provider.name=existing")))
    assert all(checks[i].status == "ok" for i in ("cpu", "memory", "disk", "docker"))
    assert "existing" in checks["docker"].need


def test_without_a_network_probe_there_is_no_network_check() -> None:
    assert "network" not in by_id(evaluate(replace(GOOD, reach={}), profile()))


# --- for real ------------------------------------------------------------------------------


def test_this_host_gets_every_check() -> None:
    checks = evaluate(gather(Shell(), network=False), profile())
    assert {"memory", "disk", "cpu", "docker-running", "port-80", "port-443"} <= {
        c.id for c in checks
    }


def test_unreachable_mirror_is_a_warning_naming_it() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    snap = gather(Shell(), f"http://127.0.0.1:{port}")
    check = by_id(evaluate(snap, profile(), f"http://127.0.0.1:{port}"))["network"]
    assert check.status == "warn"
    assert check.value == f"127.0.0.1:{port}: Connection refused"


def test_a_cluster_in_docker_is_checked_against_the_docker_vm() -> None:
    """A Mac with 8 CPUs and 32 GiB whose colima VM has colima's defaults
    (2 CPUs, 2 GiB): the cluster gets the VM's, and preflight says so."""
    vm = replace(DOCKER_UP, cpus=2, mem_total_mib=1965)
    mac = replace(GOOD, host=replace(HOST, os="darwin"), docker=vm)
    for provider in ("minikube", "kind"):
        checks = by_id(evaluate(mac, profile(f"provider.name={provider}")))
        assert checks["cpu"].status == ("fail" if provider == "minikube" else "warn")
        assert checks["cpu"].value == "2 (Docker engine)"
        assert "Docker VM" in checks["cpu"].fix and "colima start --cpu" in checks["cpu"].fix
        assert checks["memory"].status == "fail"
        assert "(Docker engine)" in checks["memory"].value
        assert "Docker VM more memory" in checks["memory"].fix
    # a big enough engine passes whatever the host has
    big = replace(DOCKER_UP, cpus=8, mem_total_mib=16 * 1024)
    small_host = replace(HOST, cpus=1, mem_total_mib=1024)
    checks = by_id(evaluate(replace(GOOD, host=small_host, docker=big), profile()))
    assert (checks["cpu"].status, checks["memory"].status) == ("ok", "ok")


def test_on_a_mac_minikube_maps_a_busy_ingress_port_elsewhere() -> None:
    mac = replace(GOOD, host=replace(HOST, os="darwin"), ports_busy={80: False, 443: True})
    check = by_id(evaluate(mac, profile()))["port-443"]
    assert check.status == "warn" and "maps the ingress elsewhere" in check.fix
