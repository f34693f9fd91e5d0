"""The host checked against a profile's needs: `evaluate()` is a pure
function from a host Snapshot (mboxed.host.gather) and a profile to a list of
coded checks, each with a stable id, a status (ok / warn / fail), the measured
value, the need, and a one-line fix. The `preflight` step stops `up` on a
failed check; `mboxed doctor` prints the same list (or JSON).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mboxed.host import Snapshot
from mboxed.os_release import os_supported
from mboxed.profile_schema import size_mib

STATUSES = ("ok", "warn", "fail")

# kind's known issue "Pod errors due to too many open files" recommends these.
# https://kind.sigs.k8s.io/docs/user/known-issues/#pod-errors-due-to-too-many-open-files
INOTIFY_WATCHES = 524288
INOTIFY_INSTANCES = 512

# Below this much free space on Docker's data root the ScienceBox images do not fit.
DISK_FLOOR_MIB = 20 * 1024
HOST_RESERVE_MIB = 2 * 1024


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    status: str
    value: str
    need: str
    fix: str = ""

    @classmethod
    def judged(
        cls, id: str, title: str, passed: bool, value: str, need: str, fix: str, failed: str
    ) -> Check:
        """A check that passes or has status `failed`; `fix` is shown only then."""
        return cls(id, title, "ok" if passed else failed, value, need, "" if passed else fix)

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


# How to size the VM the Docker engine runs in, where there is one.
_VM_HOW = " (Docker Desktop: Settings → Resources; colima: colima start --cpu N --memory GiB)"


def _capacity(snap: Snapshot, provider: Any) -> tuple[int, int, int | None, str]:
    """CPUs, total and available memory (MiB) the cluster can have, and where
    they were measured. A cluster in Docker (kind; minikube's docker driver)
    gets what the engine has — `docker info` NCPU and MemTotal, on Docker
    Desktop and colima the VM's, not the Mac's (as ctlptl reads NCPU,
    tilt-dev/ctlptl pkg/cluster/machine.go) — else the host's."""
    docker, host = snap.docker, snap.host
    in_docker = provider.name == "kind" or (
        provider.name == "minikube" and provider.driver == "docker"
    )
    if in_docker and docker.reachable and docker.cpus > 0 and docker.mem_total_mib > 0:
        return docker.cpus, docker.mem_total_mib, None, " (Docker engine)"
    return host.cpus, host.mem_total_mib, host.mem_available_mib, ""


def _gib(mib: int) -> str:
    return f"{mib / 1024:.1f} GiB"


def evaluate(snap: Snapshot, profile: Any, mirror: str | None = None) -> list[Check]:
    """Snapshot + profile -> checks (pure)."""
    provider = profile.provider
    local = provider.name != "existing"
    host = snap.host
    checks: list[Check] = []
    add = checks.append

    # OS and architecture
    if host.os not in ("linux", "darwin"):
        add(
            Check(
                "os",
                "operating system",
                "fail",
                host.os,
                "Linux or macOS",
                "use a Linux VM (e.g. the Vagrantfile) or a Mac",
            )
        )
    else:
        status, why = os_supported(host.release)
        add(
            Check(
                "os",
                "operating system",
                status,
                why,
                "Debian 11+, Ubuntu 20.04+, Fedora 38+, RHEL-family 8+, macOS 12+",
                "" if status == "ok" else "expect rough edges; report what breaks",
            )
        )
    arch_ok = host.arch in ("amd64", "arm64")
    add(
        Check.judged(
            "arch",
            "CPU architecture",
            arch_ok,
            host.arch,
            "amd64 or arm64",
            "use an amd64 or arm64 machine",
            "fail",
        )
    )

    # CPU, memory, disk (for a local cluster)
    cpus, mem_total, mem_available, measured_in = _capacity(snap, provider)
    more = "give the Docker VM more" if measured_in else "give the machine more"
    vm_how = _VM_HOW if measured_in else ""
    want_cpus = provider.cpus
    if not local:
        add(Check("cpu", "CPUs", "ok", str(cpus), "none here (provider existing)"))
    elif cpus >= want_cpus:
        add(Check("cpu", "CPUs", "ok", f"{cpus}{measured_in}", f">= {want_cpus} (provider.cpus)"))
    else:
        # minikube refuses more CPUs than the host has; kind takes what is there.
        status = "fail" if provider.name == "minikube" else "warn"
        add(
            Check(
                "cpu",
                "CPUs",
                status,
                f"{cpus}{measured_in}",
                f">= {want_cpus} (provider.cpus)",
                f"{more} CPUs{vm_how}, or --set provider.cpus={max(1, cpus)}",
            )
        )
    want_mem = size_mib(provider.memory)
    mem_value = f"{_gib(mem_total)} total" + (
        f", {_gib(mem_available)} available" if mem_available is not None else measured_in
    )
    mem_need = f">= {_gib(want_mem)} (provider.memory) + {_gib(HOST_RESERVE_MIB)} for the host"
    if not local:
        add(Check("memory", "memory", "ok", mem_value, "none here (provider existing)"))
    elif mem_total < want_mem:
        add(
            Check(
                "memory",
                "memory",
                "fail",
                mem_value,
                mem_need,
                f"{more} memory{vm_how}, or lower provider.memory (--set provider.memory=6g)",
            )
        )
    elif mem_total < want_mem + HOST_RESERVE_MIB:
        add(
            Check(
                "memory",
                "memory",
                "warn",
                mem_value,
                mem_need,
                f"{more} memory{_VM_HOW}"
                if measured_in
                else "close other programs, or lower provider.memory",
            )
        )
    else:
        add(Check("memory", "memory", "ok", mem_value, mem_need))
    want_disk = size_mib(provider.disk)
    disk_value = f"{_gib(snap.disk_free_mib)} free at {snap.disk_path}"
    disk_need = f">= {_gib(want_disk)} (provider.disk); at least {_gib(DISK_FLOOR_MIB)}"
    if not local:
        add(Check("disk", "free disk", "ok", disk_value, "none here (provider existing)"))
    elif snap.disk_free_mib < min(DISK_FLOOR_MIB, want_disk):
        add(
            Check(
                "disk",
                "free disk",
                "fail",
                disk_value,
                disk_need,
                f"free space under {snap.disk_path} (docker system prune) or grow the disk",
            )
        )
    elif snap.disk_free_mib < want_disk:
        add(
            Check(
                "disk",
                "free disk",
                "warn",
                disk_value,
                disk_need,
                f"free space under {snap.disk_path}, or lower provider.disk",
            )
        )
    else:
        add(Check("disk", "free disk", "ok", disk_value, disk_need))

    # Ports 80/443: kind maps them to the host and minikube's none driver binds
    # them; with the docker/podman drivers minikube publishes the ingress on
    # them only when free (else it answers on the minikube IP only) — off
    # Linux the node IP is not routable, so it publishes on the next free ones.
    needs_ports = provider.name == "kind" or (
        provider.name == "minikube"
        and (provider.driver == "none" or (provider.driver == "docker" and host.os != "linux"))
    )
    publishes = provider.name == "minikube" and provider.driver in ("docker", "podman")
    for port, busy in sorted(snap.ports_busy.items()):
        value = "in use" if busy else "free"
        where = f"port-{port}", f"port {port}"
        probe = f"ss -ltnp 'sport = :{port}'"
        if needs_ports:
            need = f"free for the ingress of {provider.name}"
            fix = f"stop what listens on {port} ({probe}), or mboxed maps the ingress elsewhere"
        elif publishes:
            need = "free to publish the ingress on this host's address (optional)"
            fix = f"stop what listens on {port} ({probe}), else it answers on the minikube IP only"
        else:
            why = "existing cluster" if not local else f"{provider.name} ({provider.driver} driver)"
            add(Check(*where, "ok", value, f"not needed by {why}"))
            continue
        add(Check(*where, "warn" if busy else "ok", value, need, fix if busy else ""))

    if host.os == "linux":
        add(
            Check.judged(
                "fuse",
                "FUSE device",
                snap.fuse,
                "/dev/fuse present" if snap.fuse else "/dev/fuse missing",
                "/dev/fuse for the EOS and CVMFS mounts",
                "sudo modprobe fuse",
                "warn",
            )
        )
        watches, instances = snap.inotify_watches, snap.inotify_instances
        low = (watches is not None and watches < INOTIFY_WATCHES) or (
            instances is not None and instances < INOTIFY_INSTANCES
        )
        add(
            Check.judged(
                "inotify",
                "inotify limits",
                not low,
                f"max_user_watches={watches}, max_user_instances={instances}",
                f">= {INOTIFY_WATCHES} watches, >= {INOTIFY_INSTANCES} instances",
                f"sudo sysctl fs.inotify.max_user_watches={INOTIFY_WATCHES} "
                f"fs.inotify.max_user_instances={INOTIFY_INSTANCES}",
                "warn",
            )
        )
        cg = snap.cgroup
        add(
            Check.judged(
                "cgroup",
                "cgroup version",
                cg == 2,
                f"v{cg}" if cg else "not mounted",
                "cgroup v2 (v1 still works, deprecated)",
                "boot with systemd.unified_cgroup_hierarchy=1",
                "warn",
            )
        )
        if provider.name == "minikube" and provider.driver in ("kvm2", "virtualbox"):
            add(
                Check.judged(
                    "virt",
                    "hardware virtualization",
                    snap.kvm,
                    "/dev/kvm present" if snap.kvm else "/dev/kvm missing",
                    f"/dev/kvm for the {provider.driver} driver",
                    "enable VT-x/AMD-V in the firmware, or use the docker driver",
                    "fail",
                )
            )

    # Docker
    checks.extend(_docker_checks(snap, profile))

    # sudo
    sudo_text = {
        "root": "running as root",
        "passwordless": "sudo without a password",
        "password": "sudo asks for a password",
        "missing": "sudo is not installed",
    }[snap.sudo]
    sudo_status = {"root": "ok", "passwordless": "ok", "password": "warn", "missing": "warn"}
    add(
        Check(
            "sudo",
            "root access",
            sudo_status[snap.sudo],
            sudo_text,
            "root or sudo, to install packages and Docker",
            {
                "password": "run from a terminal: sudo will ask once",
                "missing": "run mboxed as root, or install sudo",
            }.get(snap.sudo, ""),
        )
    )

    # Downloads (not probed by `mboxed plan`: a dry run stays off the network)
    if not snap.reach:
        return checks
    bad = {host_: err for host_, err in snap.reach.items() if err}
    hosts = ", ".join(snap.reach)
    if bad:
        value = "; ".join(f"{h}: {e}" for h, e in bad.items())
        fix = (
            f"check the mirror {mirror}"
            if mirror
            else "use a classroom mirror (--mirror URL / MBOXED_MIRROR) or fill the cache first"
        )
        add(Check("network", "download hosts", "warn", value, f"HTTPS to {hosts}", fix))
    else:
        add(Check("network", "download hosts", "ok", "reachable", f"HTTPS to {hosts}"))
    return checks


def _docker_checks(snap: Snapshot, profile: Any) -> list[Check]:
    provider = profile.provider
    docker = snap.docker
    need_docker = provider.name == "kind" or (
        provider.name == "minikube" and provider.driver == "docker"
    )
    if not need_docker:
        why = "existing cluster" if provider.name == "existing" else f"{provider.driver} driver"
        value = docker.summary if docker.reachable else "not used"
        return [Check("docker", "Docker engine", "ok", value, f"not needed ({why})")]
    out: list[Check] = []
    installed = bool(docker.cli or docker.daemon or docker.reachable)
    out.append(
        Check.judged(
            "docker-installed",
            "Docker installed",
            installed,
            docker.daemon or docker.cli or "not installed",
            "a Docker engine",
            "`mboxed up` installs it (step docker)",
            "warn",
        )
    )
    running = docker.reachable or docker.permission_denied or bool(docker.daemon_pids)
    out.append(
        Check.judged(
            "docker-running",
            "Docker running",
            running,
            docker.summary if docker.reachable else ("running" if running else docker.error),
            f"an engine answering at {docker.base_url}",
            "`mboxed up` starts it (step docker)",
            "warn",
        )
    )
    if docker.reachable:
        access, value, fix = "ok", "this user reaches the engine", ""
    elif docker.permission_denied:
        if snap.docker_group:
            access, value = "warn", "in the docker group, but not this shell yet"
            fix = "run `newgrp docker` or log in again"
        else:
            access, value = "warn", f"{snap.host.user} is not in the docker group"
            fix = "`mboxed up` adds you (step docker); then `newgrp docker`"
    else:
        access, value, fix = "warn", "engine not reachable", "`mboxed up` starts it (step docker)"
    out.append(
        Check(
            "docker-access",
            "Docker reachable by this user",
            access,
            value,
            "this user can use Docker without sudo",
            fix,
        )
    )
    return out
