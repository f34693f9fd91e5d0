"""The docker step: the plan as a table (facts in, actions out), and for
real as root: start Debian's dockerd (no systemd here), verify it through the
Docker SDK, apply again (nothing to do), and stop it again through `down`."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mboxed.docker_engine import (
    DEFAULT_PIDFILE,
    DEFAULT_SOCKET,
    DockerProbe,
    daemons_serving,
    probe_docker,
    stop_daemon,
)
from mboxed.errors import MboxedError
from mboxed.host import OsRelease
from mboxed.profile import load_profile
from mboxed.steps.docker import DockerFacts, DockerStep, plan_docker
from tests.steps.host_world import make_world

DEBIAN = OsRelease("debian", "12", (), "Debian GNU/Linux 12 (bookworm)")
UP = DockerProbe(
    "unix:///var/run/docker.sock",
    cli="/usr/bin/docker",
    daemon="/usr/sbin/dockerd",
    reachable=True,
    server_version="20.10.24+dfsg1",
    storage_driver="overlay2",
    cgroup_driver="cgroupfs",
    cgroup_version="1",
    root_dir="/var/lib/docker",
)
DOWN = DockerProbe(
    "unix:///var/run/docker.sock",
    cli="/usr/bin/docker",
    daemon="/usr/sbin/dockerd",
    error="no Docker socket",
)
ABSENT = DockerProbe("unix:///var/run/docker.sock", error="no Docker socket")


def facts(**changes: Any) -> DockerFacts:
    base = DockerFacts(
        provider="minikube",
        os="linux",
        probe=UP,
        release=DEBIAN,
        package_manager="apt",
        systemd=False,
        user="root",
        is_root=True,
        group_exists=True,
        user_in_group=True,
        process_in_group=True,
    )
    return replace(base, **changes)


def profile(*overrides: str) -> Any:
    return load_profile("demo", overrides=list(overrides)).profile


DIR = Path("/state/default")


def summaries(f: DockerFacts, *overrides: str) -> list[str]:
    return [a.summary for a in plan_docker(f, DIR, profile(*overrides)).actions]


def test_running_engine_plans_nothing_and_says_what_runs() -> None:
    plan = plan_docker(facts(), DIR, profile())
    assert plan.empty
    assert plan.reason == (
        "Docker 20.10.24+dfsg1, storage overlay2, cgroup cgroupfs v1 at unix:///var/run/docker.sock"
    )


def test_existing_provider_needs_no_docker() -> None:
    plan = plan_docker(facts(provider="existing", probe=ABSENT), DIR, profile())
    assert plan.empty and "provider existing" in plan.reason


def test_minikube_vm_driver_needs_no_docker() -> None:
    plan = plan_docker(facts(probe=ABSENT), DIR, profile("provider.driver=kvm2"))
    assert plan.empty and "kvm2" in plan.reason


def test_debian_without_docker_installs_docker_io_and_starts_dockerd() -> None:
    assert summaries(facts(probe=ABSENT)) == [
        "install docker.io with apt",
        f"start dockerd in the background (no systemd here); its log: {DIR}/dockerd.log",
    ]


def test_systemd_hosts_start_the_service() -> None:
    assert summaries(facts(probe=DOWN, systemd=True)) == [
        "start the docker service (systemctl start docker)"
    ]


def test_fedora_uses_moby_engine() -> None:
    fedora = OsRelease("fedora", "40")
    assert summaries(facts(probe=ABSENT, release=fedora, package_manager="dnf"))[0] == (
        "install moby-engine with dnf"
    )


def test_rocky_uses_dockers_repository() -> None:
    rocky = OsRelease("rocky", "9.4", ("rhel", "centos", "fedora"))
    plan = plan_docker(facts(probe=ABSENT, release=rocky, package_manager="dnf"), DIR, profile())
    action = plan.actions[0]
    assert action.detail["packages"] == ("docker-ce", "docker-ce-cli", "containerd.io")
    assert action.detail["repo"] == "https://download.docker.com/linux/centos/docker-ce.repo"


def test_unknown_distribution_without_docker_is_a_clear_error() -> None:
    arch = OsRelease("arch", "")
    with pytest.raises(MboxedError, match="knows no package for arch"):
        plan_docker(facts(probe=ABSENT, release=arch, package_manager=None), DIR, profile())


def test_user_outside_the_docker_group_is_added_and_told_about_newgrp() -> None:
    denied = replace(UP, reachable=False, error="permission denied on the Docker socket")
    f = facts(
        probe=denied,
        user="alice",
        is_root=False,
        user_in_group=False,
        process_in_group=False,
    )
    plan = plan_docker(f, DIR, profile())
    assert [a.summary for a in plan.actions] == [
        "add alice to the docker group (then `newgrp docker` or log in again)"
    ]
    assert plan.actions[0].detail == {"user": "alice", "newgrp": True}


def test_sudo_user_is_added_even_when_root_can_reach_the_engine() -> None:
    f = facts(user="alice", user_in_group=False, process_in_group=True)
    plan = plan_docker(f, DIR, profile())
    assert [a.summary for a in plan.actions] == [
        "add alice to the docker group (then `newgrp docker` or log in again)"
    ]
    assert plan.actions[0].detail["newgrp"]  # alice's own shell is not in it yet


def test_group_added_but_shell_not_yet_blocks_with_newgrp() -> None:
    denied = replace(UP, reachable=False, error="permission denied on the Docker socket")
    f = facts(probe=denied, user="alice", is_root=False, process_in_group=False)
    plan = plan_docker(f, DIR, profile())
    assert plan.empty and plan.blocked
    assert "this shell is not yet" in plan.reason
    assert plan.hint.startswith("run `newgrp docker`")


def test_a_running_engine_that_does_not_answer_is_never_restarted() -> None:
    stuck = replace(DOWN, daemon_pids=(4242,), error="the Docker socket refuses connections")
    with pytest.raises(MboxedError, match=r"dockerd is running \(pid 4242\)") as caught:
        plan_docker(facts(probe=stuck), DIR, profile())
    assert "does not restart" in caught.value.hint


def test_macos_without_engine_installs_colima_with_brew() -> None:
    mac = facts(os="darwin", probe=ABSENT, release=OsRelease("macos", "14.5"), brew=True)
    if Path("/Applications/Docker.app").is_dir():  # pragma: no cover - not on Linux
        pytest.skip("Docker Desktop present")
    # sized from the profile (demo: 4 CPUs, 8g memory, 40g disk), not colima's
    # defaults (2 CPUs, 2 GiB): the VM holds the whole cluster
    assert summaries(mac) == [
        "install colima docker with brew",
        "start the colima VM with Docker (colima start --cpu 4 --memory 10 --disk 100)",
    ]
    start = plan_docker(mac, DIR, profile()).actions[-1]
    assert start.detail["argv"][:4] == ["colima", "start", "--cpu", "4"]


def test_macos_without_engine_or_brew_says_what_to_install() -> None:
    mac = facts(os="darwin", probe=ABSENT, release=OsRelease("macos", "14.5"), brew=False)
    with pytest.raises(MboxedError, match="Homebrew is not installed"):
        plan_docker(mac, DIR, profile())


# --- for real -------------------------------------------------------------------------------


@pytest.mark.host
@pytest.mark.timeout(180)
@pytest.mark.skipif(os.geteuid() != 0, reason="starts dockerd: root only (CI)")
@pytest.mark.skipif(shutil.which("dockerd") is None, reason="needs Debian's docker.io")
def test_docker_step_for_real(tmp_path: Path) -> None:
    world = make_world(tmp_path, system_path=True)
    step = DockerStep()
    already = probe_docker(world.ctx.shell).reachable
    try:
        planned, applied, again = world.three_way(step)
        outputs = world.ctx.state.step("docker").outputs
        if already:
            # An engine runs already: nothing to do, and it is left alone.
            assert planned.outcome == "skipped" and applied.outcome == "skipped"
        else:
            assert planned.outcome == "planned"
            assert planned.plan is not None
            assert planned.plan.actions[0].kind == "start-dockerd"
            assert applied.outcome == "done"
            log = world.ctx.paths.deployment_dir("default") / "dockerd.log"
            assert "API listen on" in log.read_text()
        assert again.outcome == "skipped"
        assert again.plan is not None and again.plan.reason.startswith("Docker ")
        assert outputs["server_version"]
        assert outputs["storage_driver"] and outputs["cgroup_driver"]
        assert outputs["host"] == "unix:///var/run/docker.sock"
        probe = probe_docker(world.ctx.shell)
        assert probe.reachable and probe.server_version == outputs["server_version"]
        if not already:
            journal = world.ctx.journal("docker")
            assert [e.kind for e in journal] == ["daemon_started"]
            world.ctx.current_step = "docker"
            step.undo(world.ctx, journal)
            world.ctx.current_step = None
            assert not probe_docker(world.ctx.shell, timeout=2).reachable
            assert daemons_serving(DEFAULT_SOCKET) == ()  # the system engine (private ones aside)
            step.undo(world.ctx, journal)  # idempotent
    finally:
        if not already:
            for entry in world.ctx.journal("docker"):
                if entry.kind == "daemon_started":
                    stop_daemon(world.ctx.shell, entry.data.get("pid"), Path(DEFAULT_PIDFILE))


@pytest.mark.host
@pytest.mark.timeout(180)
@pytest.mark.skipif(os.geteuid() != 0, reason="adds a user and starts dockerd: root only (CI)")
@pytest.mark.skipif(
    shutil.which("dockerd") is None or shutil.which("useradd") is None,
    reason="needs Debian's docker.io and useradd",
)
def test_the_sudo_user_joins_the_docker_group_for_real(tmp_path: Path) -> None:
    """Run as if via `sudo` by a fresh user: the step adds that user to the
    docker group (usermod), says `newgrp docker`, and `down` takes it out."""
    import grp
    import subprocess

    user = "mboxed-t"
    subprocess.run(["useradd", "--no-create-home", user], check=True)
    world = make_world(tmp_path, system_path=True, env={"SUDO_USER": user})
    step = DockerStep()
    already = probe_docker(world.ctx.shell).reachable
    try:
        planned, applied, again = world.three_way(step)
        assert planned.plan is not None
        kinds = [a.kind for a in planned.plan.actions]
        assert kinds == (["group"] if already else ["start-dockerd", "group"])
        assert applied.outcome == "done" and again.outcome == "skipped"
        assert user in grp.getgrnam("docker").gr_mem
        assert f"{user} is now in the docker group: run `newgrp docker`" in world.out.getvalue()
        world.ctx.current_step = "docker"
        step.undo(world.ctx, world.ctx.journal("docker"))
        world.ctx.current_step = None
        assert user not in grp.getgrnam("docker").gr_mem
    finally:
        for entry in world.ctx.journal("docker"):
            if entry.kind == "daemon_started" and not already:
                stop_daemon(world.ctx.shell, entry.data.get("pid"), Path(DEFAULT_PIDFILE))
        subprocess.run(["gpasswd", "-d", user, "docker"], capture_output=True, check=False)
        subprocess.run(["userdel", user], capture_output=True, check=False)
