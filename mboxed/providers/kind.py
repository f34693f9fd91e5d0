"""The kind provider: a generated v1alpha4 config, the node image pinned by
digest, host ports for 80/443, ingress-nginx installed and waited for.

Upstream facts:
- Config: kind.x-k8s.io/v1alpha4 (kubernetes-sigs/kind pkg/apis/config/
  v1alpha4/types.go); the ingress guide (site/content/docs/user/ingress.md)
  labels the node `ingress-ready=true` through a kubeadm InitConfiguration
  patch and maps container ports 80/443 to the host with extraPortMappings.
- Node images: each kind release lists `kindest/node:vX@sha256:...` per
  Kubernetes version in its release notes; kind's own default is pinned the
  same way (pkg/apis/config/defaults/image.go). The table below is from the
  release notes of kind v0.24.0.
- `kind get clusters` prints one name per line on stdout, and "No kind
  clusters found." on stderr when there are none (pkg/cmd/kind/get/clusters).
- Creating a cluster whose nodes exist fails with `node(s) already exist for
  a cluster with the name "X"` (pkg/cluster/internal/create/create.go).
- Node containers carry the label io.x-k8s.kind.cluster=<name>
  (pkg/cluster/internal/providers/docker/constants.go). kind has no stop or
  start; ctlptl and users `docker stop`/`docker start` the node containers.
- ingress-nginx's kind manifest: deploy/static/provider/kind/deploy.yaml of
  kubernetes/ingress-nginx, at a release tag; its sha256 below is of that
  file at tag controller-v1.11.2 (read from the repository with git; raw
  GitHub serves the blob's bytes as they are).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mboxed import kube
from mboxed.errors import MboxedError, ProfileError
from mboxed.providers import (
    ClusterSpec,
    ClusterStatus,
    Progress,
    choose_host_ports,
    host_port_free,
    ingress_nginx_ready,
    kubeconfig_from_env,
    wait_for_ingress_nginx,
)
from mboxed.providers.room_nodes import RoomNodes, node_command, with_registry_config_path

CLUSTER_LABEL = "io.x-k8s.kind.cluster"

# Kubernetes version -> sha256 digest of kindest/node:<version>, from the
# release notes of kind v0.24.0 — the kind release mboxed pins
# (mboxed/downloads.py); images built for newer kind releases may need a newer kind.
NODE_IMAGE_DIGESTS: dict[str, str] = {
    # kind v0.24.0
    "v1.31.0": "53df588e04085fd41ae12de0c3fe4c72f7013bba32a20e7325357a1ac94ba865",
    "v1.30.4": "976ea815844d5fa93be213437e3ff5754cd599b040946b5cca43ca45c2047114",
    "v1.29.8": "d46b7aa29567e93b27f7531d258c372e829d7224b25e3fc6ffdefed12476d3aa",
    "v1.28.13": "45d319897776e11167e4698f6b14938eb4d52eb381d9e3d7a9086c16c69a8110",
}

INGRESS_NGINX_VERSION = "controller-v1.11.2"
INGRESS_NGINX_HOST = "https://raw.githubusercontent.com"
INGRESS_NGINX_PATH = (
    f"/kubernetes/ingress-nginx/{INGRESS_NGINX_VERSION}/deploy/static/provider/kind/deploy.yaml"
)

INGRESS_NGINX_SHA256 = "dc850e38ca4abcb08625f1601f0656c81b6b5e34cc23d5458c332060732c14e0"

# --- pure functions ---------------------------------------------------------------


def node_image(kubernetes_version: str) -> str:
    """kindest/node:<version>@sha256:<digest>, pinned."""
    try:
        digest = NODE_IMAGE_DIGESTS[kubernetes_version]
    except KeyError:
        known = sorted(NODE_IMAGE_DIGESTS, key=lambda v: tuple(int(x) for x in v[1:].split(".")))
        raise ProfileError(
            f"provider.kubernetes_version {kubernetes_version} has no pinned kind node image",
            hint="use one of: " + ", ".join(known),
        ) from None
    return f"kindest/node:{kubernetes_version}@sha256:{digest}"


def parse_clusters(stdout: str) -> list[str]:
    """`kind get clusters` stdout → cluster names (the "No kind clusters
    found." line goes to stderr, but tolerate it on stdout too)."""
    return [
        line.strip()
        for line in stdout.splitlines()
        if line.strip() and not line.startswith("No kind clusters found")
    ]


@dataclass(frozen=True)
class NodeContainer:
    name: str
    state: str
    image: str


def parse_node_containers(stdout: str) -> list[NodeContainer]:
    """`docker ps -a --filter label=io.x-k8s.kind.cluster=X --format
    '{{.Names}}\\t{{.State}}\\t{{.Image}}'` → node containers."""
    out = []
    for line in stdout.splitlines():
        parts = line.strip().split("\t")
        if len(parts) >= 2 and parts[0]:
            out.append(NodeContainer(parts[0], parts[1], parts[2] if len(parts) > 2 else ""))
    return out


def parse_port_bindings(text: str) -> tuple[int, int] | None:
    """`docker inspect --format '{{json .HostConfig.PortBindings}}' NODE` →
    the host ports of the node's 80 and 443 ({"443/tcp": [{"HostIp":
    "0.0.0.0", "HostPort": "8443"}], ...}: docker's nat.PortMap), when both
    are published."""
    try:
        bindings = json.loads(text.strip() or "null") or {}
    except ValueError:
        return None
    found: dict[int, int] = {}
    for key, entries in bindings.items() if isinstance(bindings, dict) else ():
        port = str(key).split("/", 1)[0]
        host = next((e.get("HostPort") for e in entries or [] if e.get("HostPort")), None)
        if port.isdigit() and host and str(host).isdigit():
            found[int(port)] = int(host)
    return (found[80], found[443]) if 80 in found and 443 in found else None


def image_version(image: str) -> str | None:
    """'kindest/node:v1.31.0@sha256:…' → 'v1.31.0'."""
    tag = image.split("@", 1)[0].rpartition(":")[2]
    return tag if tag.startswith("v") else None


def render_config(spec: ClusterSpec, http_port: int, https_port: int) -> str:
    """The kind config (v1alpha4) for one control-plane node ready for ingress."""
    config = {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "name": spec.name,
        "nodes": [
            {
                "role": "control-plane",
                "image": node_image(spec.kubernetes_version),
                "kubeadmConfigPatches": [
                    "kind: InitConfiguration\n"
                    "nodeRegistration:\n"
                    "  kubeletExtraArgs:\n"
                    '    node-labels: "ingress-ready=true"\n'
                ],
                "extraPortMappings": [
                    {"containerPort": 80, "hostPort": http_port, "protocol": "TCP"},
                    {"containerPort": 443, "hostPort": https_port, "protocol": "TCP"},
                ],
            }
        ],
    }
    header = "# Generated by mboxed: the kind cluster of one deployment.\n"
    return header + yaml.safe_dump(config, sort_keys=False)


def ingress_manifest_url(mirror: str | None) -> str:
    base = mirror.rstrip("/") if mirror else INGRESS_NGINX_HOST
    return base + INGRESS_NGINX_PATH


# --- the provider ------------------------------------------------------------------


class KindProvider:
    name = "kind"

    def __init__(
        self,
        spec: ClusterSpec,
        shell: Any,
        *,
        cache_dir: Path,
        config_dir: Path,
        binary: str = "kind",
        mirror: str | None = None,
        host_ports: tuple[int, int] | None = None,
        is_free: Callable[[int], bool] = host_port_free,
        room: str | None = None,
    ) -> None:
        """`cache_dir` holds the ingress manifest's download, `config_dir`
        the generated kind config. `host_ports`: those the cluster was
        published on when it was created (the cluster step's outputs keep
        them); creating the cluster chooses them anew. `room`: the room
        mirror the nodes pull images through (mboxed.providers.room_nodes)."""
        self.spec = spec
        self.shell = shell
        self.binary = binary
        self.cache_dir = Path(cache_dir)
        self.config_dir = Path(config_dir)
        self.mirror = mirror
        self.is_free = is_free
        self.host_ports = host_ports
        self.room = room

    # -- reading --------------------------------------------------------------
    def tool_missing(self) -> str | None:
        if not self.shell.which(self.binary):
            return "kind"
        if not self.shell.which("docker"):
            return "docker"
        return None

    def _nodes(self) -> list[NodeContainer]:
        result = self.shell.run(
            [
                "docker",
                "ps",
                "-a",
                "--filter",
                f"label={CLUSTER_LABEL}={self.spec.name}",
                "--format",
                "{{.Names}}\t{{.State}}\t{{.Image}}",
            ],
            check=False,
        )
        return parse_node_containers(result.stdout) if result.ok else []

    def _published_ports(self, node: str) -> tuple[int, int] | None:
        """Where the node container really publishes 80/443: what a run that
        failed after creating the cluster never wrote into its outputs."""
        result = self.shell.run(
            ["docker", "inspect", "--format", "{{json .HostConfig.PortBindings}}", node],
            check=False,
        )
        return parse_port_bindings(result.stdout) if result.ok else None

    def status(self) -> ClusterStatus:
        result = self.shell.run([self.binary, "get", "clusters"])
        if self.spec.name not in parse_clusters(result.stdout):
            return ClusterStatus.absent(f"no kind cluster {self.spec.name!r}")
        nodes = self._nodes()
        if self.host_ports is None and nodes:
            self.host_ports = self._published_ports(nodes[0].name)
        running = bool(nodes) and all(n.state == "running" for n in nodes)
        versions = {image_version(n.image) for n in nodes} - {None}
        settings = {"kubernetes_version": versions.pop()} if len(versions) == 1 else {}
        state = "Running" if running else "Stopped"
        detail = ", ".join(f"{n.name} {n.state}" for n in nodes) or "no node containers"
        return ClusterStatus(True, running, state, settings, detail)

    def root_problem(self) -> str | None:
        return None  # kind runs as any user who may use docker

    def wanted_settings(self) -> dict[str, Any]:
        return {"kubernetes_version": self.spec.kubernetes_version}

    def create_summary(self) -> str:
        image = node_image(self.spec.kubernetes_version)
        ports = "host ports 80/443, or the next free ones"
        return f"create kind cluster {self.spec.name!r} from {image} ({ports})"

    def kube_context(self) -> str:
        return f"kind-{self.spec.name}"

    def kubeconfig(self) -> str | None:
        return kubeconfig_from_env(self.shell.env)

    def restore_context(self) -> None:
        self.shell.run([self.binary, "export", "kubeconfig", "--name", self.spec.name])

    # -- changing --------------------------------------------------------------
    def config_path(self) -> Path:
        return self.config_dir / f"kind-{self.spec.name}.yaml"

    def ensure(self, progress: Progress, before_create: Callable[[], None] | None = None) -> bool:
        current = self.status()
        if current.running:
            return False
        if current.exists:
            self.start(progress)
            return False
        http, https = choose_host_ports(self.is_free)
        self.host_ports = (http, https)
        if (http, https) != (80, 443):
            progress(f"host ports 80/443 are taken: mapping the ingress to {http}/{https}")
        path = self.config_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        config = render_config(self.spec, http, https)
        path.write_text(with_registry_config_path(config) if self.room else config)
        progress(self.create_summary())
        if before_create is not None:
            before_create()
        self.shell.run(
            [
                self.binary,
                "create",
                "cluster",
                "--name",
                self.spec.name,
                "--config",
                str(path),
                "--wait",
                "5m",
            ],
            timeout=1800,
        )
        return True

    def start(self, progress: Progress) -> None:
        nodes = [n.name for n in self._nodes()]
        if not nodes:
            raise MboxedError(f"kind cluster {self.spec.name!r} has no node containers to start")
        progress(f"starting kind node container(s) {', '.join(nodes)}")
        self.shell.run(["docker", "start", *nodes], timeout=300)

    def stop(self, progress: Progress) -> None:
        nodes = [n.name for n in self._nodes()]
        if nodes:
            progress(f"stopping kind node container(s) {', '.join(nodes)}")
            self.shell.run(["docker", "stop", *nodes], timeout=300)

    def delete(self, progress: Progress) -> None:
        progress(f"deleting kind cluster {self.spec.name!r}")
        self.shell.run([self.binary, "delete", "cluster", "--name", self.spec.name], timeout=600)

    # -- ingress -----------------------------------------------------------------
    def ingress_summary(self) -> str:
        return f"install ingress-nginx {INGRESS_NGINX_VERSION} (kind manifest) and wait for it"

    def ingress_ready(self, client: Any) -> bool:
        return ingress_nginx_ready(client)

    def ingress_manifest(self) -> list[dict[str, Any]]:
        """The pinned ingress-nginx kind manifest: downloaded once through the
        shared downloader (cache by sha256, retries, resume, mirror) and used
        only when its sha256 is the pinned one."""
        from mboxed.downloads import Downloader

        downloader = Downloader(self.cache_dir, mirror=self.mirror)
        path = downloader.cached(INGRESS_NGINX_SHA256) or downloader.download(
            ingress_manifest_url(self.mirror),
            INGRESS_NGINX_SHA256,
            label=f"ingress-nginx {INGRESS_NGINX_VERSION} kind manifest",
        )
        return [d for d in yaml.safe_load_all(path.read_text()) if d]

    def ensure_ingress(self, client: Any, progress: Progress) -> None:
        progress(f"installing ingress-nginx {INGRESS_NGINX_VERSION}")
        kube.apply_manifests(client, self.ingress_manifest())
        wait_for_ingress_nginx(client, progress)

    def ingress_address(self, client: Any) -> str:
        if sys.platform != "linux":
            # Docker Desktop: node IPs are not routable from the host; the
            # port mapping on localhost is.
            return "127.0.0.1"
        return node_address(kube.list_nodes(client), prefer_label="ingress-ready")

    def https_port(self) -> int:
        if sys.platform == "linux":
            return 443  # the node's own 443, reached at its IP
        if self.host_ports is None:
            nodes = self._nodes()
            self.host_ports = self._published_ports(nodes[0].name) if nodes else None
        return self.host_ports[1] if self.host_ports is not None else 443

    def load_image(self, image: str) -> None:
        self.shell.run(
            [self.binary, "load", "docker-image", image, "--name", self.spec.name], timeout=1800
        )

    def room_nodes(self) -> RoomNodes:
        """The node containers, each reached with `docker exec NODE sh -c`."""

        def run(node: str, script: str) -> str:
            command = node_command(script, sudo=False)
            return str(self.shell.run(["docker", "exec", node, "sh", "-c", command]).stdout)

        return RoomNodes(lambda: [n.name for n in self._nodes()], run)


def node_address(nodes: Iterable[dict[str, Any]], prefer_label: str | None = None) -> str:
    """InternalIP of the node carrying `prefer_label` (else of the first node)."""
    listed = list(nodes)
    if prefer_label:
        labelled = [n for n in listed if prefer_label in (n["metadata"].get("labels") or {})]
        listed = labelled or listed
    for node in listed:
        for addr in node.get("status", {}).get("addresses") or []:
            if addr.get("type") == "InternalIP":
                return str(addr["address"])
    raise MboxedError("no node of the cluster reports an InternalIP address")
