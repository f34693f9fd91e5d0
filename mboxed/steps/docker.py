"""Step `docker`: a running Docker engine the invoking user can reach.

Installs the engine when it is missing (the distribution's package: docker.io
on Debian/Ubuntu, moby-engine on Fedora, docker-ce from Docker's repository
on RHEL-family; colima via Homebrew on macOS when no engine is there), starts
it (systemd where present; otherwise dockerd in the background, its log in the
deployment directory), and adds the invoking user to the `docker` group.
The engine is verified through the Docker SDK (ping, server version, storage
and cgroup driver). A running engine is never restarted and firewall rules
are never touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mboxed.contract import Action, BaseStep, Context, Plan
from mboxed.docker_engine import (
    DEFAULT_PIDFILE,
    DockerProbe,
    colima_start_argv,
    probe_docker,
    start_dockerd,
    stop_daemon,
    wait_reachable,
)
from mboxed.errors import MboxedError
from mboxed.host import (
    group_exists,
    invoking_user,
    normalize_os,
    package_manager,
    process_in_group,
    user_in_group,
)
from mboxed.journal import JournalEntry, revert
from mboxed.os_release import OsRelease, read_os_release
from mboxed.package_manager import install, removal
from mboxed.profile_schema import size_mib

# --- the step --------------------------------------------------------------------------


@dataclass(frozen=True)
class DockerFacts:
    provider: str
    os: str
    probe: DockerProbe
    release: OsRelease
    package_manager: str | None
    systemd: bool
    user: str
    is_root: bool
    group_exists: bool
    user_in_group: bool
    process_in_group: bool
    brew: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)


def engine_package(release: OsRelease, manager: str | None) -> tuple[str, ...]:
    """The distribution's engine package(s) for this OS (empty: none known)."""
    if manager == "apt":
        return ("docker.io",)
    if manager == "dnf":
        if release.id == "fedora":
            return ("moby-engine",)
        return ("docker-ce", "docker-ce-cli", "containerd.io")
    return ()


DOCKER_CE_REPO = "https://download.docker.com/linux/{distro}/docker-ce.repo"


class DockerStep(BaseStep):
    name = "docker"
    description = "a running Docker engine the invoking user can reach"

    def inputs(self, ctx: Context) -> Mapping[str, Any]:
        return {"provider": ctx.profile.provider.name, "driver": ctx.profile.provider.driver}

    def facts(self, ctx: Context) -> DockerFacts:
        import platform

        shell = ctx.shell
        system = normalize_os(platform.system())
        release = read_os_release(system)
        user = invoking_user(shell.env)
        return DockerFacts(
            provider=ctx.profile.provider.name,
            os=system,
            probe=probe_docker(shell),
            release=release,
            package_manager=package_manager(shell.which, release.family),
            systemd=Path("/run/systemd/system").is_dir(),
            user=user,
            is_root=shell.is_root(),
            group_exists=group_exists("docker"),
            user_in_group=user == "root" or user_in_group(user, "docker"),
            process_in_group=shell.is_root() or process_in_group("docker"),
            brew=shell.which("brew") is not None,
        )

    def plan(self, ctx: Context, facts: DockerFacts) -> Plan:
        return plan_docker(facts, ctx.paths.deployment_dir(ctx.deployment), ctx.profile)

    def apply(self, ctx: Context, plan: Plan) -> Mapping[str, Any] | None:
        told_newgrp = False
        for action in plan.actions:
            ctx.progress(action.summary)
            if action.kind == "install":
                self._install(ctx, action)
            elif action.kind == "start-systemd":
                ctx.shell.run(["systemctl", "start", "docker"], root=True, timeout=120)
                ctx.record("command", undo=["systemctl", "stop", "docker"], root=True)
                wait_reachable(ctx.shell)
            elif action.kind == "start-dockerd":
                self._start_dockerd(ctx, action)
            elif action.kind == "start-desktop":
                ctx.shell.run(["open", "-a", "Docker"], timeout=60)
                wait_reachable(ctx.shell, timeout=180)
            elif action.kind == "start-colima":
                ctx.shell.run(action.detail.get("argv") or ["colima", "start"], timeout=900)
                ctx.record("command", undo=["colima", "stop"], root=False)
                wait_reachable(ctx.shell)
            elif action.kind == "group":
                self._add_to_group(ctx, action)
                told_newgrp = bool(action.detail.get("newgrp"))
            else:  # pragma: no cover - plan_docker makes only the kinds above
                raise MboxedError(f"docker: unknown action {action.kind!r}")
        if told_newgrp:
            user = next(a.detail["user"] for a in plan.actions if a.kind == "group")
            ctx.progress(
                f"{user} is now in the docker group: run `newgrp docker` "
                "(or log out and in) so that your shell can use Docker without sudo"
            )
        return None

    def outputs(self, ctx: Context, facts: DockerFacts) -> Mapping[str, Any]:
        probe = facts.probe
        if facts.provider == "existing" or not probe.reachable:
            return {}
        return {
            "host": probe.base_url,
            "server_version": probe.server_version,
            "storage_driver": probe.storage_driver,
            "cgroup_driver": probe.cgroup_driver,
            "root_dir": probe.root_dir,
            "needs_newgrp": not facts.process_in_group and not facts.is_root,
        }

    # -- actions ----------------------------------------------------------------------
    def _install(self, ctx: Context, action: Action) -> None:
        manager = action.detail["manager"]
        packages = list(action.detail["packages"])
        # apt: the lists are refreshed first, stale or not (as this step always did).
        install(ctx.shell, manager, packages, update=True, repo=action.detail.get("repo"))
        for package in packages:
            ctx.record("command", **removal(manager, package))

    def _start_dockerd(self, ctx: Context, action: Action) -> None:
        log_path = Path(action.detail["log"])
        pid = start_dockerd(ctx.shell, log_path)
        ctx.record("daemon_started", pid=pid, pidfile=DEFAULT_PIDFILE, log=str(log_path))
        ctx.progress(f"started dockerd directly (no systemd on this host); its log: {log_path}")

    def _add_to_group(self, ctx: Context, action: Action) -> None:
        user = action.detail["user"]
        if not group_exists("docker"):
            ctx.shell.run(["groupadd", "--system", "docker"], root=True, timeout=60)
        ctx.shell.run(["usermod", "-aG", "docker", user], root=True, timeout=60)
        ctx.record("command", undo=["gpasswd", "-d", user, "docker"], root=True)

    # -- undo ---------------------------------------------------------------------------
    def undo(self, ctx: Context, journal: Sequence[JournalEntry]) -> None:
        for entry in reversed(journal):
            if entry.kind == "daemon_started":
                stop_daemon(ctx.shell, entry.data.get("pid"), Path(entry.data.get("pidfile") or ""))
            else:
                revert(ctx, entry)


def plan_docker(facts: DockerFacts, deployment_dir: Path, profile: Any) -> Plan:
    """Facts in, actions out (pure)."""
    provider = profile.provider
    if facts.provider == "existing":
        return Plan.nothing("provider existing: the cluster brings its own container runtime")
    if provider.name == "minikube" and provider.driver not in ("docker", "none"):
        return Plan.nothing(f"minikube driver {provider.driver} does not use Docker")
    probe = facts.probe
    actions: list[Action] = []
    if facts.os == "darwin":
        return _plan_macos(facts, provider)
    engine_ok = probe.reachable or probe.permission_denied
    if not probe.daemon and not engine_ok:
        packages = engine_package(facts.release, facts.package_manager)
        if not packages:
            raise MboxedError(
                "Docker is not installed and mboxed knows no package for "
                f"{facts.release.label} (package manager: {facts.package_manager or 'none'})",
                hint="install Docker Engine (https://docs.docker.com/engine/install/), "
                "then run `mboxed up` again",
            )
        detail: dict[str, Any] = {"manager": facts.package_manager, "packages": packages}
        summary = f"install {' '.join(packages)} with {facts.package_manager}"
        if packages[0] == "docker-ce":
            distro = "centos" if facts.release.id in ("rocky", "almalinux") else facts.release.id
            detail["repo"] = DOCKER_CE_REPO.format(distro=distro)
            summary += f" from Docker's repository ({detail['repo']})"
        actions.append(Action(summary, "install", detail))
    if not engine_ok:
        if probe.daemon_pids and not actions:
            raise MboxedError(
                f"dockerd is running (pid {probe.daemon_pids[0]}) but does not answer at "
                f"{probe.base_url}: {probe.error}",
                hint="mboxed does not restart a running engine; check its log "
                "(journalctl -u docker), or set DOCKER_HOST to where it listens",
            )
        if facts.systemd:
            actions.append(
                Action("start the docker service (systemctl start docker)", "start-systemd")
            )
        else:
            log = deployment_dir / "dockerd.log"
            actions.append(
                Action(
                    f"start dockerd in the background (no systemd here); its log: {log}",
                    "start-dockerd",
                    {"log": str(log)},
                )
            )
    if facts.user != "root" and not facts.user_in_group:
        actions.append(
            Action(
                f"add {facts.user} to the docker group (then `newgrp docker` or log in again)",
                "group",
                # the user's own shell needs the new group: under sudo always
                {"user": facts.user, "newgrp": facts.is_root or not facts.process_in_group},
            )
        )
    if actions:
        return Plan(actions)
    if not probe.reachable:
        # Nothing mboxed can do from this process: group membership reaches a
        # process only through a new login. Failing here (not skipping) stops
        # the cluster step from failing later with a confusing socket error.
        return Plan.blocked_by(
            f"Docker runs and {facts.user} is in the docker group, but this shell is not yet",
            "run `newgrp docker` (or log out and in), then `mboxed up` again: it resumes here",
        )
    return Plan.nothing(f"{probe.summary} at {probe.base_url}")


def _plan_macos(facts: DockerFacts, provider: Any) -> Plan:
    probe = facts.probe
    if probe.reachable:
        return Plan.nothing(f"{probe.summary} at {probe.base_url}")
    if Path("/Applications/Docker.app").is_dir():
        return Plan([Action("start Docker Desktop (open -a Docker)", "start-desktop")])
    if not facts.brew:
        raise MboxedError(
            "no Docker engine on this Mac, and Homebrew is not installed",
            hint="install Docker Desktop or Homebrew (https://brew.sh), then run `mboxed up` again",
        )
    actions = []
    wanted = [p for p in ("colima", "docker") if p != "docker" or not probe.cli]
    actions.append(
        Action(
            f"install {' '.join(wanted)} with brew",
            "install",
            {"manager": "brew", "packages": wanted},
        )
    )
    argv = colima_start_argv(int(provider.cpus), size_mib(provider.memory), size_mib(provider.disk))
    actions.append(
        Action(
            f"start the colima VM with Docker ({' '.join(argv)})", "start-colima", {"argv": argv}
        )
    )
    return Plan(actions)


def make() -> DockerStep:
    return DockerStep()
