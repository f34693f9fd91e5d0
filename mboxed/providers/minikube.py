"""The minikube provider (the default): docker driver, one profile per deployment.

Formats and exit codes come from upstream kubernetes/minikube:
- `minikube status -o json`: cmd/minikube/cmd/status.go — one JSON object
  (a list for multi-node clusters) with Name, Host, Kubelet, APIServer,
  Kubeconfig, Worker; the exit code is a bit mask: 1 host not running,
  2 kubelet/apiserver not running, 4 kubeconfig not configured. A profile
  that does not exist exits 85 (reason.ExGuestNotFound, pkg/minikube/mustload).
- `minikube profile list -o json`: cmd/minikube/cmd/config/profile_list.go —
  {"invalid": [...], "valid": [Profile]}, Profile = {Name, Status, Config:
  ClusterConfig} (pkg/minikube/config/types.go: Memory and DiskSize in MB,
  CPUs, Driver, KubernetesConfig.KubernetesVersion, Nodes[].IP, Addons).
- As root the docker driver refuses to start without --force
  (cmd/minikube/cmd/start.go, reason.DrvAsRoot "DRV_AS_ROOT", exit 57).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mboxed.errors import MboxedError
from mboxed.providers import (
    ClusterSpec,
    ClusterStatus,
    Progress,
    host_port_free,
    ingress_nginx_ready,
    kubeconfig_from_env,
    wait_for_ingress_nginx,
)

EXIT_PROFILE_NOT_FOUND = 85  # reason.ExGuestNotFound
EXIT_DRIVER_AS_ROOT = 57  # reason.ExDriverPermission (DRV_AS_ROOT)
HOST_NOT_RUNNING, CLUSTER_NOT_RUNNING, KUBECONFIG_NOT_CONFIGURED = 1, 2, 4


# --- pure parsers ------------------------------------------------------------------


@dataclass(frozen=True)
class MinikubeStatus:
    name: str
    host: str
    kubelet: str
    apiserver: str
    kubeconfig: str
    exit_code: int

    @property
    def running(self) -> bool:
        return self.exit_code & (HOST_NOT_RUNNING | CLUSTER_NOT_RUNNING) == 0 and (
            self.host == "Running"
        )


def parse_status(stdout: str, exit_code: int) -> MinikubeStatus | None:
    """`minikube status -o json` → the control plane's status; None when the
    profile does not exist."""
    if exit_code == EXIT_PROFILE_NOT_FOUND:
        return None
    text = stdout.strip()
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        return None
    data = json.loads(text[start:])
    if isinstance(data, list):  # multi-node: the control plane is the one that is not Worker
        data = next((d for d in data if not d.get("Worker")), data[0] if data else {})
    if not data:
        return None
    return MinikubeStatus(
        name=str(data.get("Name", "")),
        host=str(data.get("Host", "")),
        kubelet=str(data.get("Kubelet", "")),
        apiserver=str(data.get("APIServer", "")),
        kubeconfig=str(data.get("Kubeconfig", "")),
        exit_code=exit_code,
    )


@dataclass(frozen=True)
class MinikubeProfile:
    name: str
    status: str
    driver: str
    cpus: int
    memory_mib: int
    disk_mib: int
    kubernetes_version: str
    ip: str
    addons: dict[str, bool] = field(default_factory=dict)


def parse_profile_list(stdout: str) -> list[MinikubeProfile]:
    """`minikube profile list -o json` → its valid profiles."""
    text = stdout.strip()
    if not text:
        return []
    data = json.loads(text[text.find("{") :])
    out = []
    for raw in data.get("valid") or []:
        cfg = raw.get("Config") or {}
        nodes = cfg.get("Nodes") or []
        control = next((n for n in nodes if n.get("ControlPlane")), nodes[0] if nodes else {})
        out.append(
            MinikubeProfile(
                name=str(raw.get("Name", "")),
                status=str(raw.get("Status", "")),
                driver=str(cfg.get("Driver", "")),
                cpus=int(cfg.get("CPUs", 0)),
                memory_mib=int(cfg.get("Memory", 0)),
                disk_mib=int(cfg.get("DiskSize", 0)),
                kubernetes_version=str(
                    (cfg.get("KubernetesConfig") or {}).get("KubernetesVersion", "")
                ),
                ip=str(control.get("IP", "")),
                addons={k: bool(v) for k, v in (cfg.get("Addons") or {}).items()},
            )
        )
    return out


def start_argv(binary: str, spec: ClusterSpec, *, force: bool, publish: bool = False) -> list[str]:
    """The `minikube start` that creates the profile's cluster. `publish`
    also exposes the node's 80/443 (where the ingress addon listens) on the
    host's 80/443 (--ports, docker/podman drivers), so the ingress answers on
    the host's own addresses too — what a VM with forwarded ports needs."""
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
    ]
    if publish and spec.driver in ("docker", "podman"):
        argv += ["--ports=80:80", "--ports=443:443"]
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
    mboxed.images.room_pull work as on kind (providers.kind.install_hosts_files
    writes them into the node container, named after the profile)."""
    return ["--container-runtime=containerd"]


# --- the provider ------------------------------------------------------------------


class MinikubeProvider:
    name = "minikube"
    # None: minikube publishes 80/443 as they are, or not at all (start_argv).
    host_ports: tuple[int, int] | None = None

    def __init__(
        self,
        spec: ClusterSpec,
        shell: Any,
        *,
        binary: str = "minikube",
        allow_root: bool = False,
        is_free: Callable[[int], bool] = host_port_free,
    ) -> None:
        """`allow_root`: the user agreed (--force, or yes at the prompt) that
        minikube may run the docker driver as root with its own --force."""
        self.spec = spec
        self.shell = shell
        self.binary = binary
        self.allow_root = allow_root
        self.is_free = is_free

    # -- reading --------------------------------------------------------------
    def tool_missing(self) -> str | None:
        return None if self.shell.which(self.binary) else "minikube"

    def _profile(self) -> MinikubeProfile | None:
        result = self.shell.run([self.binary, "profile", "list", "-o", "json"], check=False)
        profiles = parse_profile_list(result.stdout) if result.stdout.strip() else []
        return next((p for p in profiles if p.name == self.spec.name), None)

    def status(self) -> ClusterStatus:
        result = self.shell.run(
            [self.binary, "status", "-p", self.spec.name, "-o", "json"], check=False
        )
        parsed = parse_status(result.stdout, result.returncode)
        profile = self._profile()
        if parsed is None and result.returncode != EXIT_PROFILE_NOT_FOUND and profile is not None:
            # `status` failed some other way (e.g. the Docker daemon is down):
            # the profile exists, in an unknown state — never "absent".
            tail = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:]
            return ClusterStatus(
                True, False, profile.status or "Unknown", self._settings(profile), " ".join(tail)
            )
        if parsed is None:
            return ClusterStatus.absent(f"no minikube profile {self.spec.name!r}")
        settings = self._settings(profile) if profile is not None else {}
        state = "Running" if parsed.running else (parsed.host or "Unknown")
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

    def kube_context(self) -> str:
        return self.spec.name  # minikube names the context after the profile

    def kubeconfig(self) -> str | None:
        return kubeconfig_from_env(self.shell.env)

    def restore_context(self) -> None:
        self.shell.run([self.binary, "update-context", "-p", self.spec.name])

    # -- root ------------------------------------------------------------------
    def root_problem(self) -> str | None:
        """Why minikube would refuse to run here, or None."""
        if self.spec.driver in ("docker", "podman") and self.shell.is_root():
            return (
                f'minikube refuses to run the "{self.spec.driver}" driver as root '
                "(DRV_AS_ROOT) unless it is given --force"
            )
        return None

    def _force(self) -> bool:
        problem = self.root_problem()
        if problem and not self.allow_root:
            raise MboxedError(
                problem,
                hint="run mboxed as a user in the docker group (not root), or pass "
                "--force (or answer yes) so that mboxed passes --force to minikube",
            )
        return problem is not None

    # -- changing --------------------------------------------------------------
    def ensure(self, progress: Progress, before_create: Callable[[], None] | None = None) -> bool:
        current = self.status()
        if current.running:
            return False
        if current.exists:
            self.start(progress)
            return False
        progress(self.create_summary())
        force = self._force()
        publish = self.is_free(80) and self.is_free(443)
        if not publish:
            progress("host ports 80/443 are taken: the ingress answers on the minikube IP only")
        argv = start_argv(self.binary, self.spec, force=force, publish=publish)
        if before_create is not None:
            before_create()
        self.shell.run(argv, timeout=1800)
        return True

    def start(self, progress: Progress) -> None:
        progress(f"starting minikube cluster {self.spec.name!r}")
        argv = [self.binary, "start", "-p", self.spec.name]
        if self._force():
            argv.append("--force")
        self.shell.run(argv, timeout=1800)

    def stop(self, progress: Progress) -> None:
        progress(f"stopping minikube cluster {self.spec.name!r}")
        self.shell.run([self.binary, "stop", "-p", self.spec.name], timeout=600)

    def delete(self, progress: Progress) -> None:
        progress(f"deleting minikube cluster {self.spec.name!r}")
        self.shell.run([self.binary, "delete", "-p", self.spec.name], timeout=600)

    # -- ingress -----------------------------------------------------------------
    def ingress_summary(self) -> str:
        return "enable the minikube ingress addon (ingress-nginx) and wait for it"

    def ingress_ready(self, client: Any) -> bool:
        return ingress_nginx_ready(client)

    def ensure_ingress(self, client: Any, progress: Progress) -> None:
        progress("enabling the ingress addon")
        self.shell.run(
            [self.binary, "addons", "enable", "ingress", "-p", self.spec.name], timeout=900
        )
        wait_for_ingress_nginx(client, progress)

    def ingress_address(self, client: Any) -> str:
        result = self.shell.run([self.binary, "ip", "-p", self.spec.name])
        return result.stdout.strip().splitlines()[-1].strip()

    def https_port(self) -> int:
        return 443

    def load_image(self, image: str) -> None:
        self.shell.run([self.binary, "image", "load", image, "-p", self.spec.name], timeout=1800)
