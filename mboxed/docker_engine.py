"""The Docker engine on this host: what answers at its endpoint (through the
Docker SDK), and starting or stopping a dockerd of mboxed's own.

Used by the `docker` step (which installs and starts the engine) and by the
host checks (`preflight`, `mboxed doctor`), which only look.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mboxed.errors import MboxedError

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
    # What the engine can give containers (`docker info` NCPU, MemTotal): on
    # Docker Desktop and colima the VM's, not the Mac's.
    cpus: int = 0
    mem_total_mib: int = 0

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


def daemon_hosts(argv: list[str]) -> list[str]:
    """The endpoints a dockerd command line listens on (`-H`/`--host`, which
    may repeat); none given means the system socket (dockerd's default,
    moby opts/hosts.go DefaultUnixSocket)."""
    hosts: list[str] = []
    for i, arg in enumerate(argv):
        if arg in ("-H", "--host") and i + 1 < len(argv):
            hosts.append(argv[i + 1])
        elif arg.startswith("--host="):
            hosts.append(arg.partition("=")[2])
        elif arg.startswith("-H") and len(arg) > 2:
            hosts.append(arg[2:].lstrip("="))
    return hosts or [DEFAULT_SOCKET]


def daemons_serving(base_url: str) -> tuple[int, ...]:
    """The running dockerds that listen at `base_url`: a private engine on a
    socket of its own (a CI job's, a test's, rootless Docker's) is not the
    one mboxed talks to, and must not be taken for it hanging."""
    wanted = base_url.replace("unix:///", "unix:/").rstrip("/")
    serving = []
    for pid in running_pids("dockerd"):
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        argv = [part.decode(errors="replace") for part in raw.split(b"\0") if part]
        hosts = [h.replace("unix:///", "unix:/").rstrip("/") for h in daemon_hosts(argv)]
        if wanted in hosts:
            serving.append(pid)
    return tuple(serving)


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
        "daemon_pids": daemons_serving(base_url),
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
        cpus=int(info.get("NCPU") or 0),
        mem_total_mib=int(info.get("MemTotal") or 0) // (1024 * 1024),
    )


# --- colima (macOS) ---------------------------------------------------------------------

# colima's VM holds the whole cluster: the profile's memory and disk plus
# room for the VM's own system and the images (colima's default disk is 100 GiB).
COLIMA_MEMORY_RESERVE_GIB = 2
COLIMA_MIN_DISK_GIB = 100


def colima_start_argv(cpus: int, memory_mib: int, disk_mib: int) -> list[str]:
    """`colima start` sized for the profile (colima's defaults, 2 CPUs and
    2 GiB, cannot hold a cluster): --cpu, --memory and --disk in GiB
    (abiosoft/colima cmd/start.go). A VM that exists takes the new CPUs and
    memory on start; its disk only grows."""
    memory_gib = -(-memory_mib // 1024) + COLIMA_MEMORY_RESERVE_GIB
    disk_gib = max(COLIMA_MIN_DISK_GIB, -(-disk_mib // 1024))
    return [
        "colima",
        "start",
        "--cpu",
        str(cpus),
        "--memory",
        str(memory_gib),
        "--disk",
        str(disk_gib),
    ]


# --- starting and stopping dockerd --------------------------------------------------


def dockerd_argv(env: Mapping[str, str]) -> list[str]:
    """dockerd with the defaults, listening where DOCKER_HOST points if set."""
    argv = ["dockerd"]
    host = env.get("DOCKER_HOST", "")
    if host.startswith("unix://") and host != DEFAULT_SOCKET:
        argv += ["-H", host]
    return argv


def wait_reachable(shell: Any, timeout: float = START_TIMEOUT) -> DockerProbe:
    """Probe until the engine answers (or refuses this user: it runs)."""
    deadline = time.monotonic() + timeout
    probe = probe_docker(shell, timeout=2)
    # "permission denied" means the engine is up and this user is not yet in
    # its group: the group action (or `newgrp docker`) settles that.
    while not (probe.reachable or probe.permission_denied) and time.monotonic() < deadline:
        time.sleep(0.5)
        probe = probe_docker(shell, timeout=2)
    if not (probe.reachable or probe.permission_denied):
        raise MboxedError(
            f"the Docker engine did not answer at {probe.base_url} within {timeout:g}s: "
            f"{probe.error}"
        )
    return probe


def start_dockerd(shell: Any, log_path: Path) -> int | None:
    """Start dockerd in the background, its output appended to `log_path`, and
    wait until it answers. Returns its pid (None when it cannot be told)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    argv = dockerd_argv(shell.env)
    # Detached from our session so that Ctrl-C on mboxed leaves it running;
    # stdin closed, output appended to the log.
    launcher = ["setsid"] if shell.which("setsid") else []
    script = 'LOG="$1"; shift; "$@" >>"$LOG" 2>&1 </dev/null &'
    shell.run(["sh", "-c", script, "sh", str(log_path), *launcher, *argv], root=True, timeout=30)
    try:
        wait_reachable(shell)
    except MboxedError as exc:
        tail = _tail(log_path)
        raise MboxedError(
            f"dockerd did not come up: {exc.message}" + (f"\n{tail}" if tail else ""),
            hint=f"see {log_path}",
        ) from None
    pids = running_pids("dockerd")
    return _read_pid(Path(DEFAULT_PIDFILE)) or (pids[0] if pids else None)


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
    """The command name (comm) of a live process; None when gone or a zombie."""
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


def bridge_gateway(env: Mapping[str, str]) -> str | None:
    """The host's address on Docker's default bridge (docker0): a local
    address of this machine that node containers (kind's and minikube's, on
    their own networks) reach through the host. None when there is none."""
    import docker

    try:
        client = docker.DockerClient(base_url=docker_endpoint(env), timeout=5)
    except Exception:  # the SDK raises DockerException and friends
        return None
    try:
        config = client.networks.get("bridge").attrs.get("IPAM", {}).get("Config") or []
    except Exception:
        return None
    finally:
        client.close()
    for entry in config:
        gateway = str(entry.get("Gateway") or "")
        if gateway and ":" not in gateway:
            return gateway
    return None
