"""The kind provider: a generated v1alpha4 config, the node image pinned by
digest, host ports for 80/443, ingress-nginx installed and waited for.

Upstream facts (the node image table, the config and the parsers are in
kind_config.py):
- Creating a cluster whose nodes exist fails with `node(s) already exist for
  a cluster with the name "X"` (pkg/cluster/internal/create/create.go).
- kind has no stop or start; ctlptl and users `docker stop`/`docker start` the node containers.
- ingress-nginx's kind manifest: deploy/static/provider/kind/deploy.yaml of
  kubernetes/ingress-nginx, at a release tag; its sha256 below is of that
  file at tag controller-v1.11.2 (read from the repository with git; raw
  GitHub serves the blob's bytes as they are).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from mboxed import kube
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
from mboxed.providers.kind_config import (
    CLUSTER_LABEL,
    NodeContainer,
    image_version,
    node_image,
    parse_clusters,
    parse_node_containers,
    parse_port_bindings,
    render_config,
)
from mboxed.providers.room_nodes import RoomNodes, node_command, with_registry_config_path

INGRESS_NGINX_VERSION = "controller-v1.11.2"
INGRESS_NGINX_HOST = "https://raw.githubusercontent.com"
INGRESS_NGINX_PATH = (
    f"/kubernetes/ingress-nginx/{INGRESS_NGINX_VERSION}/deploy/static/provider/kind/deploy.yaml"
)

INGRESS_NGINX_SHA256 = "dc850e38ca4abcb08625f1601f0656c81b6b5e34cc23d5458c332060732c14e0"


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
        engine: base_image.HostEngine | None = None,
    ) -> None:
        """`cache_dir` holds the ingress manifest's download, `config_dir`
        the generated kind config. `host_ports`: those the cluster was
        published on when it was created (the cluster step's outputs keep
        them); creating the cluster chooses them anew. `room`: the room
        mirror the nodes pull images through (mboxed.providers.room_nodes),
        and where the node image comes from (mboxed.providers.base_image);
        `engine`: the host's Docker engine (default: the SDK's, at DOCKER_HOST)."""
        self.spec = spec
        self.shell = shell
        self.binary = binary
        self.cache_dir = Path(cache_dir)
        self.config_dir = Path(config_dir)
        self.mirror = mirror
        self.is_free = is_free
        self.host_ports = host_ports
        self.room = room
        self.engine = engine

    def _engine(self) -> base_image.HostEngine:
        return self.engine or base_image.host_engine(self.shell.env)

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
        if self.room:  # loaded from the room first, then named by its tag
            image = base_image.familiar_tag(image)
        ports = "host ports 80/443, or the next free ones"
        return f"create kind cluster {self.spec.name!r} from {image} ({ports})"

    def base_image_missing(self) -> str | None:
        """What creating the cluster loads from the room first (None: nothing)."""
        if not self.room:
            return None
        image, engine = node_image(self.spec.kubernetes_version), self._engine()
        lacks = functools.partial(base_image.engine_lacks, engine, self.room, image)
        return base_image.planned(lacks, image, self.room)

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
        if self.room:
            # kind would pull the node image with the host's engine: it comes
            # from the room, and the config names it by the tag it carries.
            image = node_image(self.spec.kubernetes_version)
            base_image.load_into_engine(self._engine(), self.room, image, progress)
            config = render_config(self.spec, http, https, base_image.familiar_tag(image))
            config = with_registry_config_path(config)
        else:
            config = render_config(self.spec, http, https)
        path.write_text(config)
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
        return node_address(kube.list_objects(client, "Node"), prefer_label="ingress-ready")

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
