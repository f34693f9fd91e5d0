"""Cluster providers: one interface, one module per backend (minikube, kind,
existing), after ctlptl's pkg/cluster/admin_*.go adapters.

A provider reads the cluster's state with its own CLI (`minikube status`,
`kind get clusters`) and everything inside the cluster through the
`kubernetes` client (mboxed/kube.py). It never deletes a cluster unless the
caller says mboxed created it (the cluster step journals that at creation).

This module holds what every provider shares and imports none of them;
providers/service.py builds the provider a deployment needs.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from mboxed.errors import MboxedError
from mboxed.profile_schema import size_mib

Progress = Callable[[str], None]

PROVIDERS = ("minikube", "kind", "existing")

# The ingress controller every local provider runs (ingress-nginx, as in the
# minikube addon and kind's ingress guide), and where it lives.
INGRESS_NAMESPACE = "ingress-nginx"
INGRESS_DEPLOYMENT = "ingress-nginx-controller"


def ingress_nginx_ready(client: Any) -> bool:
    """The ingress-nginx controller Deployment exists and is Ready."""
    from mboxed import kube, readiness

    obj = kube.read_object(client, "Deployment", INGRESS_NAMESPACE, INGRESS_DEPLOYMENT)
    return obj is not None and readiness.workload_readiness(obj).ready


def wait_for_ingress_nginx(client: Any, progress: Progress, timeout: float = 600) -> None:
    from mboxed import readiness

    readiness.wait_workload_ready(
        client,
        "Deployment",
        INGRESS_NAMESPACE,
        INGRESS_DEPLOYMENT,
        timeout=timeout,
        progress=progress,
    )


def cluster_name(deployment: str) -> str:
    """The minikube profile / kind cluster name for a deployment. Prefixed so
    that mboxed never mistakes the user's own `minikube` or `kind` cluster for
    one of its own."""
    return "mboxed" if deployment == "default" else f"mboxed-{deployment}"


@dataclass(frozen=True)
class ClusterSpec:
    """The cluster the profile asks for."""

    provider: str
    name: str
    driver: str = "docker"
    cpus: int = 4
    memory_mib: int = 8192
    disk_mib: int = 40960
    kubernetes_version: str = "v1.31.0"
    context: str | None = None
    kubeconfig: str | None = None

    @classmethod
    def from_profile(cls, profile: Any, deployment: str) -> ClusterSpec:
        p = profile.provider
        return cls(
            provider=p.name,
            name=cluster_name(deployment),
            driver=p.driver,
            cpus=int(p.cpus),
            memory_mib=size_mib(p.memory),
            disk_mib=size_mib(p.disk),
            kubernetes_version=p.kubernetes_version,
            context=p.context,
            kubeconfig=getattr(p, "kubeconfig", None),
        )


@dataclass(frozen=True)
class ClusterStatus:
    """What is there now. `state` is the provider's word (Running, Stopped,
    Paused, absent, unreachable...). `settings` holds what can be compared
    with the spec (see `differences`)."""

    exists: bool
    running: bool
    state: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    detail: str = ""

    @classmethod
    def absent(cls, detail: str = "") -> ClusterStatus:
        return cls(False, False, "absent", {}, detail)


def differences(wanted: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """'cpus: 2 → 4' for each setting the cluster has otherwise than wanted
    (settings the cluster does not report are not compared)."""
    out = []
    for key, want in wanted.items():
        if key in actual and actual[key] is not None and actual[key] != want:
            out.append(f"{key}: {actual[key]} → {want}")
    return out


@runtime_checkable
class ClusterProvider(Protocol):
    name: str
    spec: ClusterSpec
    # The host ports (http, https) the ingress is published on, when the
    # provider maps them itself (kind); None when it does not.
    host_ports: tuple[int, int] | None

    def tool_missing(self) -> str | None:
        """The CLI this provider needs when it is not on PATH (None: all there)."""
        ...

    def status(self) -> ClusterStatus: ...

    def root_problem(self) -> str | None:
        """Why the provider would refuse to run as the current user, or None."""
        ...

    def wanted_settings(self) -> dict[str, Any]:
        """The spec's settings, in the same terms as `status().settings`."""
        ...

    def create_summary(self) -> str:
        """One line: what creating the cluster means, for the plan."""
        ...

    def ensure(self, progress: Progress, before_create: Callable[[], None] | None = None) -> bool:
        """Create the cluster, or start it, or leave it running. True when it
        was created. `before_create` runs once mboxed knows the cluster is
        absent and is about to create it — so the caller journals its
        ownership before a half-finished create can leave a cluster behind."""
        ...

    def start(self, progress: Progress) -> None: ...

    def stop(self, progress: Progress) -> None: ...

    def delete(self, progress: Progress) -> None: ...

    def kube_context(self) -> str: ...

    def kubeconfig(self) -> str | None: ...

    def restore_context(self) -> None:
        """Write the cluster's context into the kubeconfig again (it was
        removed or the file replaced): `minikube update-context`,
        `kind export kubeconfig`."""
        ...

    def ingress_summary(self) -> str:
        """One line: how the ingress controller gets there, for the plan."""
        ...

    def ingress_ready(self, client: Any) -> bool: ...

    def ensure_ingress(self, client: Any, progress: Progress) -> None: ...

    def ingress_address(self, client: Any) -> str:
        """The IP the ingress is reached at from the host (and from pods)."""
        ...

    def https_port(self) -> int: ...

    def load_image(self, image: str) -> None: ...


# Host ports for the ingress where the host cannot reach the node's own
# 80/443 (kind everywhere; minikube's docker driver off Linux): 80/443 when
# free, else the first free alternate.
HTTP_PORTS = (80, 8080, 8081, 8880)
HTTPS_PORTS = (443, 8443, 9443, 10443)


def choose_host_ports(is_free: Callable[[int], bool]) -> tuple[int, int]:
    """Host ports for the ingress: 80/443 when free, else the first free alternates."""
    http = next((p for p in HTTP_PORTS if is_free(p)), None)
    https = next((p for p in HTTPS_PORTS if is_free(p)), None)
    if http is None or https is None:
        raise MboxedError(
            "no free host port for the ingress: tried "
            + ", ".join(str(p) for p in (*HTTP_PORTS, *HTTPS_PORTS)),
            hint="stop what listens there (ss -ltnp or lsof -iTCP -sTCP:LISTEN shows it)",
        )
    return http, https


def host_port_free(port: int) -> bool:
    """False only when something already listens on the port. (EACCES just
    means we may not bind a low port ourselves; dockerd, as root, can.)
    SO_REUSEADDR, as every server sets it (Go's net.Listen, dockerd's
    docker-proxy): connections of a server that just stopped, still in
    TIME_WAIT, do not make the port taken; a listener still does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError as exc:
            return exc.errno != errno.EADDRINUSE
    return True


def kubeconfig_from_env(env: Mapping[str, str]) -> str:
    """The kubeconfig minikube and kind write to, like kubectl reads it: the
    first file of $KUBECONFIG, else ~/.kube/config."""
    first = next((p for p in str(env.get("KUBECONFIG", "")).split(os.pathsep) if p), "")
    if first:
        return first
    home = env.get("HOME") or str(Path.home())
    return str(Path(home) / ".kube" / "config")
