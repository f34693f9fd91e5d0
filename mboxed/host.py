"""Facts about the host: architecture, CPUs, memory, disk, ports, users and
groups, package manager (the OS release: mboxed.os_release), and `gather()`,
which reads all that the host checks look at (mboxed.host_checks).

Each fact is a small reader plus a pure parser (tested on captured real
output), in the manner of pyinfra's facts. Nothing here changes the host.
"""

from __future__ import annotations

import contextlib
import grp
import os
import platform
import pwd
import shutil
import socket
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mboxed.docker_engine import DockerProbe, probe_docker
from mboxed.os_release import OsRelease, parse_sw_vers, read_os_release

# --- architecture ------------------------------------------------------------------

_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv8l": "arm64",
}


def normalize_arch(machine: str) -> str:
    """uname -m -> Go-style arch (amd64, arm64); anything else as given."""
    return _ARCH.get(machine.lower(), machine.lower())


def normalize_os(system: str) -> str:
    """platform.system() -> linux | darwin | …"""
    return system.lower()


# --- memory, cpu, disk ---------------------------------------------------------------


def parse_meminfo(text: str) -> tuple[int, int]:
    """/proc/meminfo -> (total MiB, available MiB)."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            values[key.strip()] = int(fields[0])  # kB
    total = values.get("MemTotal", 0)
    available = values.get("MemAvailable", values.get("MemFree", 0))
    return total // 1024, available // 1024


def parse_cgroup_cpu_max(text: str, online: int) -> int:
    """cgroup v2 cpu.max ('max 100000' or '200000 100000') -> usable CPUs."""
    fields = text.split()
    if len(fields) != 2 or fields[0] == "max":
        return online
    quota, period = int(fields[0]), int(fields[1])
    if period <= 0:
        return online
    return max(1, min(online, -(-quota // period)))


def cpu_count() -> int:
    """CPUs this process may use (affinity; cgroup v2 quota where set)."""
    try:
        online = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        online = os.cpu_count() or 1
    cpu_max = Path("/sys/fs/cgroup/cpu.max")
    if cpu_max.is_file():
        with contextlib.suppress(OSError, ValueError):
            return parse_cgroup_cpu_max(cpu_max.read_text(), online)
    return online


def existing_ancestor(path: Path) -> Path:
    """The nearest existing directory at or above `path` (for disk_usage)."""
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def free_disk_mib(path: Path) -> int:
    return shutil.disk_usage(existing_ancestor(path)).free // (1024 * 1024)


# --- kernel knobs -------------------------------------------------------------------


def read_int(path: str | Path) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def cgroup_version(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """2 for the unified hierarchy, 1 for v1 or hybrid, None when absent."""
    if (root / "cgroup.controllers").is_file():
        return 2
    if root.is_dir() and any(root.iterdir()):
        return 1
    return None


# --- listening ports ------------------------------------------------------------------


def parse_proc_net_tcp(text: str) -> set[int]:
    """Ports in LISTEN state (st 0A) from /proc/net/tcp or /proc/net/tcp6."""
    ports: set[int] = set()
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != "0A":
            continue
        _, _, port_hex = fields[1].rpartition(":")
        with contextlib.suppress(ValueError):
            ports.add(int(port_hex, 16))
    return ports


def listening_ports() -> set[int] | None:
    """Every TCP port something listens on (Linux); None when unknown."""
    found: set[int] = set()
    seen = False
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            found |= parse_proc_net_tcp(Path(name).read_text())
            seen = True
        except OSError:
            continue
    return found if seen else None


def port_busy(port: int) -> bool:
    """Whether something listens on `port` here (Linux: /proc; else a probe)."""
    ports = listening_ports()
    if ports is not None:
        return port in ports
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# --- users and groups -------------------------------------------------------------------


def invoking_user(env: Mapping[str, str]) -> str:
    """The human behind this run: SUDO_USER under sudo, else the current user."""
    sudo_user = env.get("SUDO_USER")
    if sudo_user and sudo_user != "root":
        return sudo_user
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return env.get("USER", "root")


def user_in_group(user: str, group: str) -> bool:
    """From the group database (what a fresh login gets), not this process."""
    try:
        entry = grp.getgrnam(group)
    except KeyError:
        return False
    if user in entry.gr_mem:
        return True
    try:
        return pwd.getpwnam(user).pw_gid == entry.gr_gid
    except KeyError:
        return False


def group_exists(group: str) -> bool:
    try:
        grp.getgrnam(group)
    except KeyError:
        return False
    return True


def process_in_group(group: str) -> bool:
    """Whether this process already holds the group (no re-login needed)."""
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        return False
    return gid in os.getgroups() or os.getegid() == gid


# --- package manager ---------------------------------------------------------------------

PACKAGE_MANAGERS: Sequence[tuple[str, str]] = (
    ("apt", "apt-get"),
    ("dnf", "dnf"),
    ("brew", "brew"),
)


def package_manager(which: Any, family: str) -> str | None:
    """apt | dnf | brew, preferring the one that fits the OS family."""
    preferred = {"debian": "apt", "rhel": "dnf", "macos": "brew"}.get(family)
    found = [name for name, exe in PACKAGE_MANAGERS if which(exe) is not None]
    if preferred in found:
        return preferred
    return found[0] if found else None


# --- all of it -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HostFacts:
    os: str  # linux | darwin
    arch: str  # amd64 | arm64 | …
    release: OsRelease
    cpus: int
    mem_total_mib: int
    mem_available_mib: int
    is_root: bool
    user: str
    package_manager: str | None
    systemd: bool
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def platform(self) -> str:
        return f"{self.os}/{self.arch}"


def _darwin_memory(shell: Any) -> int:
    result = shell.run(["sysctl", "-n", "hw.memsize"], check=False, timeout=10)
    try:
        return int(result.stdout.strip()) // (1024 * 1024)
    except ValueError:
        return 0


def read_host(shell: Any) -> HostFacts:
    """Read the facts of this machine (no side effects)."""
    system = normalize_os(platform.system())
    arch = normalize_arch(platform.machine())
    if system == "darwin":
        sw = shell.run(["sw_vers"], check=False, timeout=10)
        release = parse_sw_vers(sw.stdout)
        total = _darwin_memory(shell)
        available = total
    else:
        release = read_os_release(system)
        try:
            total, available = parse_meminfo(Path("/proc/meminfo").read_text())
        except OSError:
            total = available = 0
    return HostFacts(
        os=system,
        arch=arch,
        release=release,
        cpus=cpu_count(),
        mem_total_mib=total,
        mem_available_mib=available,
        is_root=shell.is_root(),
        user=invoking_user(shell.env),
        package_manager=package_manager(shell.which, release.family),
        systemd=Path("/run/systemd/system").is_dir(),
    )


# --- everything the host checks look at ---------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """Everything the checks look at, read once."""

    host: HostFacts
    disk_path: str
    disk_free_mib: int
    ports_busy: Mapping[int, bool]
    fuse: bool
    kvm: bool
    inotify_watches: int | None
    inotify_instances: int | None
    cgroup: int | None
    docker: DockerProbe
    docker_group: bool  # the invoking user is in the docker group (group database)
    sudo: str  # root | passwordless | password | missing
    reach: Mapping[str, str] = field(default_factory=dict)  # host -> "" (ok) or error


def download_hosts(mirror: str | None) -> list[str]:
    """Hosts mboxed downloads from: the mirror's, or the upstream ones."""
    if mirror:
        return [urlsplit(mirror).netloc]
    from mboxed.pins import PINNED

    hosts: list[str] = []
    for release in PINNED.values():
        netloc = urlsplit(release.url).netloc
        if netloc not in hosts:
            hosts.append(netloc)
    return hosts


def probe_host(netloc: str, timeout: float = 3.0) -> str:
    """'' when a TCP connection to host:port opens, else why not."""
    host, _, port_text = netloc.partition(":")
    port = int(port_text) if port_text.isdigit() else 443
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return "does not resolve"
    last = "unreachable"
    for family, kind, proto, _, address in infos[:3]:
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(timeout)
                sock.connect(address)
                return ""
        except OSError as exc:
            last = exc.strerror or str(exc)
    return last


def sudo_state(shell: Any) -> str:
    if shell.is_root():
        return "root"
    if shell.which("sudo") is None:
        return "missing"
    result = shell.run(["sudo", "-n", "true"], check=False, timeout=10)
    return "passwordless" if result.ok else "password"


def gather(
    shell: Any,
    mirror: str | None = None,
    ports: Sequence[int] = (80, 443),
    network: bool = True,
) -> Snapshot:
    """Read the host for the checks. No side effects. With `network`, also try
    a TCP connection to each download host (or the mirror)."""
    host = read_host(shell)
    docker = probe_docker(shell)
    if docker.root_dir:
        disk_path = docker.root_dir
    elif host.os == "darwin":
        disk_path = str(Path(shell.env.get("HOME") or Path.home()))
    else:
        disk_path = "/var/lib/docker"
    hosts = download_hosts(mirror) if network else []
    with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
        reach = dict(zip(hosts, pool.map(probe_host, hosts), strict=True))
    return Snapshot(
        host=host,
        disk_path=disk_path,
        disk_free_mib=free_disk_mib(Path(disk_path)),
        ports_busy={port: port_busy(port) for port in ports},
        fuse=Path("/dev/fuse").exists(),
        kvm=Path("/dev/kvm").exists(),
        inotify_watches=read_int("/proc/sys/fs/inotify/max_user_watches"),
        inotify_instances=read_int("/proc/sys/fs/inotify/max_user_instances"),
        cgroup=cgroup_version() if host.os == "linux" else None,
        docker=docker,
        docker_group=host.user == "root" or user_in_group(host.user, "docker"),
        sudo=sudo_state(shell),
        reach=reach,
    )
