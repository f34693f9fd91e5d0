"""Preflight: the checks as a table (snapshot + profile in, checks out), the
real host read for real (downloads probed only on a mirror on 127.0.0.1), and
the step through the engine: it stops `up` with the failed checks, --force
goes on, a profile the host meets plans nothing."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mboxed.downloads import PINNED
from mboxed.engine import Options
from mboxed.errors import MboxedError
from mboxed.host import HostFacts, OsRelease
from mboxed.profile import load_profile
from mboxed.shell import Shell
from mboxed.steps.docker import DockerProbe
from mboxed.steps.preflight import (
    STATUSES,
    Check,
    PreflightFacts,
    PreflightStep,
    Snapshot,
    download_hosts,
    evaluate,
    gather,
    plan_preflight,
    probe_host,
)
from tests.file_server import FileServer
from tests.steps.host_world import make_world

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


def test_plan_probes_no_network(tmp_path: Path) -> None:
    world = make_world(tmp_path, options=Options(dry_run=True))
    facts = PreflightStep().facts(world.ctx)
    assert "network" not in {c.id for c in facts.checks}


def test_download_hosts_are_the_pinned_ones_or_the_mirror() -> None:
    assert download_hosts(None) == ["dl.k8s.io", "get.helm.sh", "github.com"]
    assert {h.split("/")[2] for h in (r.url for r in PINNED.values())} == set(download_hosts(None))
    assert download_hosts("http://10.0.0.5:8080/mboxed") == ["10.0.0.5:8080"]


def test_plan_stops_on_failures_and_force_goes_on() -> None:
    failed = Check("cpu", "CPUs", "fail", "2", ">= 4 (provider.cpus)", "--set provider.cpus=2")
    warned = Check("cgroup", "cgroup version", "warn", "v1", "cgroup v2")
    facts = PreflightFacts((failed, warned), "linux/amd64", "apt")
    plan = plan_preflight(facts, "demo", force=False)
    assert plan.blocked and plan.empty
    assert (
        plan.reason
        == "this host does not meet the needs of demo: cpu: 2 (need >= 4 (provider.cpus))"
    )
    assert plan.hint == "--set provider.cpus=2 — or `mboxed up --force` to go on anyway"
    forced = plan_preflight(facts, "demo", force=True)
    assert forced.empty and "going on because of --force" in forced.reason
    ok = plan_preflight(PreflightFacts((warned,), "linux/amd64", "apt"), "demo", force=False)
    assert ok.empty and ok.reason == "host meets the needs of demo (1 warning(s): cgroup)"


# --- for real ------------------------------------------------------------------------------


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
    checks = evaluate(snap, profile(), mirror.url)
    assert {"memory", "disk", "cpu", "docker-running", "port-80", "port-443"} <= {
        c.id for c in checks
    }


def test_unreachable_mirror_is_a_warning_naming_it() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert probe_host(f"127.0.0.1:{port}") == "Connection refused"
    snap = gather(Shell(), f"http://127.0.0.1:{port}")
    check = by_id(evaluate(snap, profile(), f"http://127.0.0.1:{port}"))["network"]
    assert check.status == "warn"
    assert check.value == f"127.0.0.1:{port}: Connection refused"


def test_step_stops_up_with_the_failed_checks_and_force_goes_on(
    tmp_path: Path, mirror: FileServer
) -> None:
    world = make_world(
        tmp_path, overrides=("provider.cpus=256",), options=Options(mirror=mirror.url)
    )
    step = PreflightStep()
    dry = world.up(step, dry_run=True)
    assert dry.outcome == "blocked" and dry.plan is not None
    assert dry.plan.reason.startswith("this host does not meet the needs of demo: cpu: ")
    with pytest.raises(MboxedError) as caught:
        world.up(step)
    assert caught.value.message.startswith(
        "preflight: this host does not meet the needs of demo: cpu: "
    )
    assert "--force" in caught.value.hint
    assert world.ctx.state.step("preflight").status == "failed"
    world.ctx.options.force = True
    forced = world.up(step)
    assert forced.outcome == "skipped" and "--force" in forced.plan.reason  # type: ignore[union-attr]


def test_step_three_way_on_a_profile_this_host_meets(tmp_path: Path, mirror: FileServer) -> None:
    world = make_world(
        tmp_path,
        overrides=("provider.cpus=1", "provider.memory=1g", "provider.disk=1g"),
        options=Options(mirror=mirror.url),
    )
    step = PreflightStep()
    planned, applied, again = world.three_way(step)
    if any(c.status == "fail" for c in step.facts(world.ctx).checks):
        pytest.skip("this host fails a check even for the smallest profile")
    assert (planned.outcome, applied.outcome, again.outcome) == ("skipped",) * 3
    assert again.plan is not None and again.plan.reason.startswith("host meets the needs of demo")
    outputs = world.ctx.state.step("preflight").outputs
    assert outputs["platform"] in ("linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64")
    assert outputs["checks"]["memory"] == "ok"
