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

import contextlib
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mboxed.engine import Action, BaseStep, Context, JournalEntry, Plan
from mboxed.errors import MboxedError
from mboxed.host import (
    OsRelease,
    group_exists,
    invoking_user,
    normalize_os,
    package_manager,
    parse_os_release,
    process_in_group,
    user_in_group,
)
from mboxed.steps.packages import APT_ENV, APT_WAIT

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
DEFAULT_PIDFILE = "/var/run/docker.pid"
START_TIMEOUT = 60.0


# --- probing the engine ---------------------------------------------------------------


@dataclass(frozen=True)
class DockerProbe:
    """What the Docker SDK sees at one endpoint, plus the binaries on PATH."""

    base_url: str
    cli: str | None = None
    daemon: str | None = None
    reachable: bool = False
    error: str = ""
    server_version: str = ""
    storage_driver: str = ""
    cgroup_driver: str = ""
    cgroup_version: str = ""
    root_dir: str = ""
    daemon_pids: tuple[int, ...] = ()

    @property
    def summary(self) -> str:
        if not self.reachable:
            return self.error or "not reachable"
        parts = [f"Docker {self.server_version}"]
        if self.storage_driver:
            parts.append(f"storage {self.storage_driver}")
        if self.cgroup_driver:
            cgroup = f"cgroup {self.cgroup_driver}"
            if self.cgroup_version:
                cgroup += f" v{self.cgroup_version}"
            parts.append(cgroup)
        return ", ".join(parts)

    @property
    def permission_denied(self) -> bool:
        return "permission denied" in self.error.lower()


def docker_endpoint(env: Mapping[str, str], home: Path | None = None) -> str:
    """DOCKER_HOST, else the first socket that exists (Docker Desktop, colima),
    else the system socket."""
    if env.get("DOCKER_HOST"):
        return env["DOCKER_HOST"]
    home = home or Path(env.get("HOME") or Path.home())
    for candidate in (
        Path("/var/run/docker.sock"),
        home / ".docker" / "run" / "docker.sock",
        home / ".colima" / "default" / "docker.sock",
    ):
        if candidate.exists():
            return f"unix://{candidate}"
    return DEFAULT_SOCKET


def running_pids(name: str) -> tuple[int, ...]:
    """PIDs of live (not zombie) processes whose command name is `name`."""
    proc = Path("/proc")
    if not proc.is_dir():
        return ()
    found = [
        int(entry.name)
        for entry in proc.iterdir()
        if entry.name.isdigit() and _process_state(int(entry.name)) == name
    ]
    return tuple(sorted(found))


def _sdk_error(exc: BaseException) -> str:
    text = str(exc)
    if "PermissionError" in text or "Permission denied" in text:
        return "permission denied on the Docker socket"
    if "FileNotFoundError" in text or "No such file" in text:
        return "no Docker socket"
    if "Connection refused" in text:
        return "the Docker socket refuses connections"
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:200]


def probe_docker(shell: Any, timeout: float = 5.0) -> DockerProbe:
    """Ask the engine at the configured endpoint (docker SDK; no side effects)."""
    import docker

    base_url = docker_endpoint(shell.env)
    cli = shell.which("docker")
    daemon = shell.which("dockerd")
    common: dict[str, Any] = {
        "base_url": base_url,
        "cli": str(cli) if cli else None,
        "daemon": str(daemon) if daemon else None,
        "daemon_pids": running_pids("dockerd"),
    }
    try:
        client = docker.DockerClient(base_url=base_url, timeout=timeout)
    except Exception as exc:  # the SDK raises DockerException and friends
        return DockerProbe(**common, error=_sdk_error(exc))
    try:
        client.ping()
        info = client.info()
        version = client.version()
    except Exception as exc:
        return DockerProbe(**common, error=_sdk_error(exc))
    finally:
        client.close()
    return DockerProbe(
        **common,
        reachable=True,
        server_version=str(version.get("Version", info.get("ServerVersion", ""))),
        storage_driver=str(info.get("Driver", "")),
        cgroup_driver=str(info.get("CgroupDriver", "")),
        cgroup_version=str(info.get("CgroupVersion", "")),
        root_dir=str(info.get("DockerRootDir", "")),
    )


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
        if system == "darwin":
            release = OsRelease(id="macos")
        else:
            try:
                release = parse_os_release(Path("/etc/os-release").read_text())
            except OSError:
                release = OsRelease(id=system)
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
                _wait_reachable(ctx)
            elif action.kind == "start-dockerd":
                self._start_dockerd(ctx, action)
            elif action.kind == "start-desktop":
                ctx.shell.run(["open", "-a", "Docker"], timeout=60)
                _wait_reachable(ctx, timeout=180)
            elif action.kind == "start-colima":
                ctx.shell.run(["colima", "start"], timeout=900)
                ctx.record("command", undo=["colima", "stop"], root=False)
                _wait_reachable(ctx)
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
        shell = ctx.shell
        if manager == "apt":
            env = APT_ENV
            shell.run([*env, "apt-get", *APT_WAIT, "update", "-q"], root=True, timeout=600)
            shell.run(
                [*env, "apt-get", *APT_WAIT, "install", "-y", "-q", *packages],
                root=True,
                timeout=1800,
            )
            for package in packages:
                ctx.record(
                    "command", undo=["apt-get", *APT_WAIT, "remove", "-y", package], root=True
                )
        elif manager == "dnf":
            repo = action.detail.get("repo")
            if repo:
                shell.run(["dnf", "-y", "install", "dnf-plugins-core"], root=True, timeout=900)
                shell.run(["dnf", "config-manager", "--add-repo", repo], root=True, timeout=300)
            shell.run(["dnf", "install", "-y", *packages], root=True, timeout=1800)
            for package in packages:
                ctx.record("command", undo=["dnf", "remove", "-y", package], root=True)
        elif manager == "brew":
            shell.run(["brew", "install", *packages], timeout=1800)
            for package in packages:
                ctx.record("command", undo=["brew", "uninstall", package], root=False, check=False)

    def _start_dockerd(self, ctx: Context, action: Action) -> None:
        log_path = Path(action.detail["log"])
        log_path.parent.mkdir(parents=True, exist_ok=True)
        argv = dockerd_argv(ctx.shell.env)
        # Detached from our session so that Ctrl-C on mboxed leaves it running;
        # stdin closed, output appended to the log.
        launcher = ["setsid"] if ctx.shell.which("setsid") else []
        script = 'LOG="$1"; shift; "$@" >>"$LOG" 2>&1 </dev/null &'
        ctx.shell.run(
            ["sh", "-c", script, "sh", str(log_path), *launcher, *argv], root=True, timeout=30
        )
        try:
            _wait_reachable(ctx)
        except MboxedError as exc:
            tail = _tail(log_path)
            raise MboxedError(
                f"dockerd did not come up: {exc.message}" + (f"\n{tail}" if tail else ""),
                hint=f"see {log_path}",
            ) from None
        pids = running_pids("dockerd")
        pid = _read_pid(Path(DEFAULT_PIDFILE)) or (pids[0] if pids else None)
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
        from mboxed.journal import revert

        for entry in reversed(journal):
            if entry.kind == "daemon_started":
                stop_daemon(ctx.shell, entry.data.get("pid"), Path(entry.data.get("pidfile") or ""))
            else:
                revert(ctx, entry)


def dockerd_argv(env: Mapping[str, str]) -> list[str]:
    """dockerd with the defaults, listening where DOCKER_HOST points if set."""
    argv = ["dockerd"]
    host = env.get("DOCKER_HOST", "")
    if host.startswith("unix://") and host != DEFAULT_SOCKET:
        argv += ["-H", host]
    return argv


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
        return _plan_macos(facts)
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


def _plan_macos(facts: DockerFacts) -> Plan:
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
    actions.append(Action("start the colima VM with Docker (colima start)", "start-colima"))
    return Plan(actions)


def _wait_reachable(ctx: Context, timeout: float = START_TIMEOUT) -> DockerProbe:
    deadline = time.monotonic() + timeout
    probe = probe_docker(ctx.shell, timeout=2)
    # "permission denied" means the engine is up and this user is not yet in
    # its group: the group action (or `newgrp docker`) settles that.
    while not (probe.reachable or probe.permission_denied) and time.monotonic() < deadline:
        time.sleep(0.5)
        probe = probe_docker(ctx.shell, timeout=2)
    if not (probe.reachable or probe.permission_denied):
        raise MboxedError(
            f"the Docker engine did not answer at {probe.base_url} within {timeout:g}s: "
            f"{probe.error}"
        )
    return probe


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


def _process_state(pid: int) -> str | None:
    """(comm, state) of a live process; None when gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # pid (comm) state ...: comm may hold spaces, so split at the last ')'.
    head, _, rest = stat.rpartition(")")
    state = rest.split()[0] if rest.split() else ""
    if state in ("Z", "X"):
        return None
    return head.partition("(")[2]


def stop_daemon(shell: Any, pid: Any, pidfile: Path, timeout: float = 30.0) -> bool:
    """Stop a dockerd mboxed started, if that same process still runs.
    Idempotent: a gone process (or a reused pid) is left alone. True if stopped."""
    candidates = [p for p in (pid, _read_pid(pidfile) if str(pidfile) else None) if p]
    for candidate in candidates:
        number = int(candidate)
        if _process_state(number) != "dockerd":
            continue  # gone, or the pid now belongs to something else
        if shell.is_root():
            with contextlib.suppress(ProcessLookupError):
                os.kill(number, signal.SIGTERM)
        else:
            shell.run(["kill", "-TERM", str(number)], root=True, check=False, timeout=30)
        deadline = time.monotonic() + timeout
        while _process_state(number) == "dockerd" and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(number, os.WNOHANG)
            time.sleep(0.2)
        return True
    return False


def make() -> DockerStep:
    return DockerStep()
