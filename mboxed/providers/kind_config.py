"""kind's node image table and cluster config, and the parsers of what kind
and docker print about a kind cluster (pure: no I/O).

Upstream facts (kubernetes-sigs/kind v0.24.0):
- Config: kind.x-k8s.io/v1alpha4 (pkg/apis/config/v1alpha4/types.go); the
  ingress guide (site/content/docs/user/ingress.md) labels the node
  `ingress-ready=true` through a kubeadm InitConfiguration patch and maps
  container ports 80/443 to the host with extraPortMappings.
- Node images: each kind release lists `kindest/node:vX@sha256:...` per
  Kubernetes version in its release notes; kind's own default is pinned the
  same way (pkg/apis/config/defaults/image.go). The table below is from the
  release notes of kind v0.24.0.
- Before creating the nodes kind runs `docker inspect --type=image IMAGE`
  and pulls IMAGE when that fails (pkg/cluster/internal/providers/docker/
  images.go, pullIfNotPresent). An image `docker load`ed from the room has
  no RepoDigests, so a digest-pinned IMAGE is never found and kind pulls;
  with a room the config names the node image by its tag
  (`kindest/node:v1.31.0`), which the loaded image carries.
- `kind get clusters` prints one name per line on stdout, and "No kind
  clusters found." on stderr when there are none (pkg/cmd/kind/get/clusters).
- Node containers carry the label io.x-k8s.kind.cluster=<name>
  (pkg/cluster/internal/providers/docker/constants.go).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import yaml

from mboxed.errors import ProfileError
from mboxed.providers import ClusterSpec

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


def node_image_tag(kubernetes_version: str) -> str:
    """kindest/node:<version>: the name a node image loaded from the room carries."""
    return node_image(kubernetes_version).split("@", 1)[0]


def render_config(
    spec: ClusterSpec, http_port: int, https_port: int, image: str | None = None
) -> str:
    """The kind config (v1alpha4) for one control-plane node ready for
    ingress; `image`: the node image (default: pinned by digest)."""
    config = {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "name": spec.name,
        "nodes": [
            {
                "role": "control-plane",
                "image": image or node_image(spec.kubernetes_version),
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
