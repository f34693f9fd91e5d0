"""The minikube provider (the default): docker driver, one profile per deployment.

Behaviour from upstream kubernetes/minikube (v1.34.0, the pinned release);
its output formats are parsed in minikube_output.py:
- `minikube start` on a paused cluster unpauses kube-system only
  (bootstrapper/kubeadm StartCluster → unpause); `minikube unpause -A`
  resumes every namespace `minikube pause -A` froze.
- As root the docker driver refuses to start without --force
  (cmd/minikube/cmd/start.go, reason.DrvAsRoot "DRV_AS_ROOT", exit 57).
- The update check (pkg/minikube/notify) asks GitHub and prints a notice;
  MINIKUBE_WANTUPDATENOTIFICATION=false turns it off (viper reads MINIKUBE_*
  variables, cmd/minikube/cmd/root.go).
- The docker driver's node runs in a VM off Linux (Docker Desktop, colima):
  its IP is not routable from the host, ports published with --ports are.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

from mboxed.errors import MboxedError
from mboxed.providers import (
    ClusterSpec,
    ClusterStatus,
    Progress,
    base_image,
    choose_host_ports,
    host_port_free,
    ingress_nginx_ready,
    kubeconfig_from_env,
    wait_for_ingress_nginx,
)
from mboxed.providers.minikube_output import (
    EXIT_PROFILE_NOT_FOUND,
    MinikubeError,
    MinikubeProfile,
    MinikubeStatus,
    minikube_error,
    parse_profile_list,
    parse_status,
    published_host_ports,
)
from mboxed.providers.room_nodes import RoomNodes, node_command
from mboxed.shell import CommandError, Result

__all__ = [
    "EXIT_PROFILE_NOT_FOUND",
    "MinikubeError",
    "MinikubeProfile",
    "MinikubeProvider",
    "MinikubeStatus",
    "minikube_error",
    "parse_profile_list",
    "parse_status",
    "published_host_ports",
    "start_argv",
]

EXIT_DRIVER_AS_ROOT = 57  # reason.ExDriverPermission (DRV_AS_ROOT)
# Every minikube call: no update check against GitHub, no notice in the output.
MINIKUBE_ENV = {"MINIKUBE_WANTUPDATENOTIFICATION": "false"}
KIC_DRIVERS = ("docker", "podman")


def start_argv(
    binary: str,
    spec: ClusterSpec,
    *,
    force: bool,
    publish: bool = False,
    host_ports: tuple[int, int] = (80, 443),
    room: bool = False,
) -> list[str]:
    """The `minikube start` that creates the profile's cluster. `publish`
    also exposes the node's 80/443 (where the ingress addon listens) on the
    host's `host_ports` (--ports, docker/podman drivers), so the ingress
    answers on the host's own addresses too — the only way in where the node
    IP is not routable from the host (Docker Desktop, colima). `room`: the
    node pulls through a room mirror (room_start_flags)."""
    argv = [
        binary,
        "start",
        "-p",
        spec.name,
        f"--driver={spec.driver}",
        f"--cpus={spec.cpus}",
        f"--memory={spec.memory_mib}mb",
        f"--disk-size={spec.disk_mib}mb",
        f"--kubernetes-version={spec.kubernetes_version}",
        "--wait=apiserver,system_pods,node_ready",
        "--output=json",
    ]
    if publish and spec.driver in KIC_DRIVERS:
        http, https = host_ports
        argv += [f"--ports={http}:80", f"--ports={https}:443"]
    if room:
        argv += room_start_flags()
    return [*argv, "--force"] if force else argv


# The node image minikube v1.34.0 (mboxed.downloads) starts with the docker
# driver: kubernetes/minikube pkg/drivers/kic/types.go at v1.34.0, Version
# v0.0.45 and baseImageSHA.
KICBASE_IMAGE = (
    "gcr.io/k8s-minikube/kicbase:v0.0.45"
    "@sha256:81df288595202a317b1a4dc2506ca2e4ed5f22373c19a441b88cfbf4b9867c85"
)


def room_start_flags() -> list[str]:
    """`minikube start` flags when images come from a room mirror: the node
    runs containerd, which reads /etc/containerd/certs.d (minikube v1.34.0
    deploy/kicbase/containerd.toml), so the hosts.toml files of
    mboxed.images.room_pull work as on kind (MinikubeProvider.room_nodes
    writes them into the node with `minikube ssh`)."""
    return ["--container-runtime=containerd"]


# --- the provider ------------------------------------------------------------------


class MinikubeProvider:
    name = "minikube"

    def __init__(
        self,
        spec: ClusterSpec,
        shell: Any,
        *,
        binary: str = "minikube",
        allow_root: bool = False,
        is_free: Callable[[int], bool] = host_port_free,
        host_ports: tuple[int, int] | None = None,
        room: str | None = None,
    ) -> None:
        """`room`: the room mirror the node pulls images through (its
        containerd, mboxed.providers.room_nodes). `allow_root`: the user
        agreed (--force, or yes at the prompt) that minikube may run the
        docker driver as root with its own --force.
        `host_ports`: those the ingress was published on (the cluster step's
        outputs keep them; else the profile's ExposedPorts tell)."""
        self.spec = spec
        self.shell = shell
        self.binary = binary
        self.allow_root = allow_root
        self.is_free = is_free
        self.host_ports = host_ports
        self.room = room

    def _run(self, *args: str, check: bool = True, timeout: float | None = None) -> Result:
        """minikube with its update check off; a failure that minikube
        explained in an error event raises that explanation."""
        try:
            return self.shell.run(
                [self.binary, *args], check=check, timeout=timeout, env=MINIKUBE_ENV
            )
        except CommandError as exc:
            reason = minikube_error(exc.stdout)
            if reason is None:
                raise
            raise reason from exc

    def _unreachable_node(self) -> bool:
        """Docker Desktop and colima run the node in a VM: its IP is not
        routable from the host, only ports published with --ports are."""
        return sys.platform != "linux" and self.spec.driver in KIC_DRIVERS

    # -- reading --------------------------------------------------------------
    def tool_missing(self) -> str | None:
        return None if self.shell.which(self.binary) else "minikube"

    def _profile(self) -> MinikubeProfile | None:
        result = self._run("profile", "list", "--light", "-o", "json", check=False)
        profiles = parse_profile_list(result.stdout)
        return next((p for p in profiles if p.name == self.spec.name), None)

    def status(self) -> ClusterStatus:
        result = self._run("status", "-p", self.spec.name, "-o", "json", check=False)
        parsed = parse_status(result.stdout, result.returncode)
        profile = self._profile()
        if profile is not None and self.host_ports is None:
            self.host_ports = published_host_ports(profile.exposed_ports)
        settings = self._settings(profile) if profile is not None else {}
        if profile is not None and (parsed is None or parsed.unknown):
            # The profile exists but its state cannot be read (e.g. the Docker
            # daemon is down): never "absent", and say why.
            error = minikube_error(result.stdout)
            why = error.message if error else _why(result)
            return ClusterStatus(True, False, "Unknown", settings, why)
        if parsed is None or (parsed.host == "Nonexistent" and profile is None):
            return ClusterStatus.absent(f"no minikube profile {self.spec.name!r}")
        state = "Running" if parsed.running else "Paused" if parsed.paused else parsed.host
        detail = f"host {parsed.host}, kubelet {parsed.kubelet}, apiserver {parsed.apiserver}"
        return ClusterStatus(True, parsed.running, state, settings, detail)

    @staticmethod
    def _settings(profile: MinikubeProfile) -> dict[str, Any]:
        return {
            "driver": profile.driver,
            "cpus": profile.cpus,
            "memory": f"{profile.memory_mib}MiB",
            "disk": f"{profile.disk_mib}MiB",
            "kubernetes_version": profile.kubernetes_version,
        }

    def wanted_settings(self) -> dict[str, Any]:
        return {
            "driver": self.spec.driver,
            "cpus": self.spec.cpus,
            "memory": f"{self.spec.memory_mib}MiB",
            "disk": f"{self.spec.disk_mib}MiB",
            "kubernetes_version": self.spec.kubernetes_version,
        }

    def create_summary(self) -> str:
        s = self.spec
        return (
            f"create minikube cluster {s.name!r} ({s.driver} driver, {s.cpus} CPUs, "
            f"{s.memory_mib} MiB memory, {s.disk_mib} MiB disk, Kubernetes "
            f"{s.kubernetes_version})"
        )

    def _kic_from_room(self) -> bool:
        """minikube takes the kicbase from its cache with the docker driver
        only (podman: "not yet implemented", node/cache.go)."""
        return bool(self.room) and self.spec.driver == "docker"

    def base_image_missing(self) -> str | None:
        """What creating the cluster writes from the room first (None: nothing)."""
        if not self._kic_from_room():
            return None
        lacks = functools.partial(
            base_image.cache_lacks, self.shell.env, str(self.room), KICBASE_IMAGE
        )
        return base_image.planned(lacks, KICBASE_IMAGE, str(self.room))

    def kube_context(self) -> str:
        return self.spec.name  # minikube names the context after the profile

    def kubeconfig(self) -> str | None:
        return kubeconfig_from_env(self.shell.env)

    def restore_context(self) -> None:
        self._run("update-context", "-p", self.spec.name)

    # -- root ------------------------------------------------------------------
    def root_problem(self) -> str | None:
        """Why minikube would refuse to run here, or None."""
        if self.spec.driver in KIC_DRIVERS and self.shell.is_root():
            return (
                f'minikube refuses to run the "{self.spec.driver}" driver as root '
                "(DRV_AS_ROOT) unless it is given --force"
            )
        return None

    def _force(self) -> list[str]:
        problem = self.root_problem()
        if problem and not self.allow_root:
            raise MboxedError(
                problem,
                hint="run mboxed as a user in the docker group (not root), or pass "
                "--force (or answer yes) so that mboxed passes --force to minikube",
            )
        return ["--force"] if problem else []

    # -- changing --------------------------------------------------------------
    def ensure(self, progress: Progress, before_create: Callable[[], None] | None = None) -> bool:
        current = self.status()
        if current.running:
            return False
        if current.exists:
            self.start(progress, current)
            return False
        progress(self.create_summary())
        force = bool(self._force())
        if self._unreachable_node():
            # The node's IP is not routable from the host: publish the
            # ingress on host ports, the next free ones when 80/443 are taken.
            self.host_ports = choose_host_ports(self.is_free)
            publish = True
        else:
            publish = self.is_free(80) and self.is_free(443)
            self.host_ports = (80, 443) if publish else None
        if not publish:
            progress("host ports 80/443 are taken: the ingress answers on the minikube IP only")
        elif self.host_ports != (80, 443):
            progress(f"host ports 80/443 are taken: publishing the ingress on {self.host_ports}")
        argv = start_argv(
            self.binary,
            self.spec,
            force=force,
            publish=publish,
            host_ports=self.host_ports or (80, 443),
            room=bool(self.room),
        )
        if self._kic_from_room():
            base_image.write_kic_cache(self.shell.env, str(self.room), KICBASE_IMAGE, progress)
        if before_create is not None:
            before_create()
        self._run(*argv[1:], timeout=1800)
        return True

    def start(self, progress: Progress, current: ClusterStatus | None = None) -> None:
        current = current or self.status()
        if current.state == "Paused":
            # `minikube start` would resume kube-system only.
            progress(f"unpausing minikube cluster {self.spec.name!r}")
            self._run("unpause", "-A", "-p", self.spec.name, "-o", "json", timeout=600)
            return
        progress(f"starting minikube cluster {self.spec.name!r}")
        self._run("start", "-p", self.spec.name, "-o", "json", *self._force(), timeout=1800)

    def stop(self, progress: Progress) -> None:
        progress(f"stopping minikube cluster {self.spec.name!r}")
        self._run("stop", "-p", self.spec.name, timeout=600)

    def delete(self, progress: Progress) -> None:
        progress(f"deleting minikube cluster {self.spec.name!r}")
        self._run("delete", "-p", self.spec.name, timeout=600)

    # -- ingress -----------------------------------------------------------------
    def ingress_summary(self) -> str:
        return "enable the minikube ingress addon (ingress-nginx) and wait for it"

    def ingress_ready(self, client: Any) -> bool:
        return ingress_nginx_ready(client)

    def ensure_ingress(self, client: Any, progress: Progress) -> None:
        progress("enabling the ingress addon")
        self._run("addons", "enable", "ingress", "-p", self.spec.name, timeout=900)
        wait_for_ingress_nginx(client, progress)

    def ingress_address(self, client: Any) -> str:
        if self._unreachable_node():
            return "127.0.0.1"  # the ports published with --ports
        result = self._run("ip", "-p", self.spec.name)
        return result.stdout.strip().splitlines()[-1].strip()

    def https_port(self) -> int:
        if not self._unreachable_node():
            return 443
        if self.host_ports is None:
            profile = self._profile()
            self.host_ports = published_host_ports(profile.exposed_ports) if profile else None
        return self.host_ports[1] if self.host_ports else 443

    def load_image(self, image: str) -> None:
        self._run("image", "load", image, "-p", self.spec.name, timeout=1800)

    def node_ssh(self) -> list[str]:
        """argv that runs the words after it in the node, as user docker."""
        return [self.binary, "ssh", "-p", self.spec.name, "--"]

    def room_nodes(self) -> RoomNodes:
        """The node (one, named after the profile), reached with `minikube ssh`."""

        def run(node: str, script: str) -> str:
            argv = [*self.node_ssh(), node_command(script, sudo=True)]
            return str(self.shell.run(argv, env=MINIKUBE_ENV, timeout=120).stdout)

        return RoomNodes(lambda: [self.spec.name], run)


def _why(result: Result) -> str:
    """The line of a failed status that says why: status logs the driver's
    error (klog, stderr) — e.g. Docker's "Cannot connect to the Docker daemon"."""
    lines = (result.stderr.strip() or result.stdout.strip()).splitlines()
    telling = [line for line in lines if "daemon" in line.lower() or "cannot" in line.lower()]
    return (telling or lines[-1:] or ["minikube status failed"])[-1].strip()
