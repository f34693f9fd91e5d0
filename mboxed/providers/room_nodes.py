"""The room mirror in the nodes' containerd, for kind and minikube alike:
which registries to point at the room, the `certs.d/<registry>/hosts.toml`
files (mboxed.images.room_pull renders them) written into each node and
checked there, and kind's config patch that makes its nodes read them.

A node is reached through a shell command string run as root in it: kind
`docker exec NODE sh -c CMD` (the node container), minikube `minikube ssh
-p PROFILE -- CMD` (minikube v1.34.0 cmd/minikube/cmd/ssh.go: the arguments
after `--` are joined into one command for the node's shell; the ssh user
is `docker`, hence sudo). Each operation is one such command: a script,
base64-encoded (no quoting survives two shells), decoded and run by `sh`.
containerd reads hosts.toml at each pull: no restart is needed.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Callable, Iterable
from typing import Any

import yaml

from mboxed.images.room_pull import CERTS_D, hosts_files

# Node images of kind v0.24.0 (the release mboxed pins) do not set
# config_path; kind's own kind-with-registry.sh (site/static/examples, at
# v0.24.0) sets it with this patch so that /etc/containerd/certs.d is read.
REGISTRY_CONFIG_PATCH = (
    '[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"'
)

# The registries ScienceBox and the providers pull from: pointed at the room
# whatever it lists (an image the room lacks still falls back to them).
KNOWN_REGISTRIES = (
    "docker.io",
    "gitlab-registry.cern.ch",
    "registry.cern.ch",
    "registry.k8s.io",
    "quay.io",
    "ghcr.io",
    "gcr.io",
)

# (node command) -> its stdout; raises on failure unless told not to
NodeRun = Callable[[str], str]


def with_registry_config_path(config_text: str) -> str:
    """A rendered kind config plus the containerd patch that makes the nodes
    read certs.d/<registry>/hosts.toml (needed before the cluster exists)."""
    config = yaml.safe_load(config_text) or {}
    patches = list(config.get("containerdConfigPatches") or [])
    if REGISTRY_CONFIG_PATCH not in patches:
        patches.append(REGISTRY_CONFIG_PATCH)
    config["containerdConfigPatches"] = patches
    return yaml.safe_dump(config, sort_keys=False)


@functools.lru_cache(maxsize=8)
def serves_images(mirror: str, timeout: float = 5) -> bool:
    """Is the mirror a room that serves images (`mboxed mirror serve`, or a
    bundle's room): its `/v2/` answers 200. A mirror of files only (a static
    server) is not: the nodes then pull upstream, as without a mirror. Asked
    once per process."""
    import requests

    try:
        return requests.get(mirror.rstrip("/") + "/v2/", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def room_registries(room_url: str, timeout: float = 10) -> list[str]:
    """The registries whose images the room holds (its `/v2/_catalog`:
    repositories are `<registry namespace>/<path>`, mboxed.images.oci), and
    the known ones."""
    import requests

    from mboxed.images.oci import registry_of

    found = set(KNOWN_REGISTRIES)
    try:
        answer = requests.get(room_url.rstrip("/") + "/v2/_catalog", timeout=timeout)
        listed = answer.json().get("repositories") if answer.ok else None
    except (requests.RequestException, ValueError, AttributeError):
        listed = None
    for repository in listed or []:
        registry = registry_of(str(repository).split("/", 1)[0])
        if "." in registry or ":" in registry or registry == "localhost":
            found.add(registry)
    return sorted(found)


def room_files(room_url: str) -> dict[str, str]:
    """`<registry>/hosts.toml` → text, for every registry of the room."""
    return hosts_files(room_registries(room_url), room_url)


def node_command(script: str, sudo: bool) -> str:
    encoded = base64.b64encode(script.encode()).decode()
    return f"echo {encoded} | base64 -d | {'sudo ' if sudo else ''}sh"


def install_script(files: dict[str, str]) -> str:
    lines = []
    for rel, text in sorted(files.items()):
        directory = f"{CERTS_D}/{rel.rsplit('/', 1)[0]}"
        encoded = base64.b64encode(text.encode()).decode()
        lines.append(f"mkdir -p {directory}")
        lines.append(f"echo {encoded} | base64 -d > {CERTS_D}/{rel}")
    return "\n".join(lines) + "\n"


def remove_script(rels: Iterable[str]) -> str:
    return "".join(f"rm -f {CERTS_D}/{rel}\n" for rel in sorted(rels))


def check_script(files: dict[str, str]) -> str:
    paths = " ".join(f"{CERTS_D}/{rel}" for rel in sorted(files))
    return f"sha256sum {paths} 2>/dev/null || true\n"


def missing(files: dict[str, str], sha256sum_output: str) -> list[str]:
    """The files (relative to certs.d) absent from a node or not as wanted,
    from `sha256sum` output (`<hex>  <path>` per file that exists)."""
    found = {}
    for line in sha256sum_output.splitlines():
        digest, _, path = line.partition("  ")
        found[path.strip()] = digest.strip()
    return [
        rel
        for rel, text in sorted(files.items())
        if found.get(f"{CERTS_D}/{rel}") != hashlib.sha256(text.encode()).hexdigest()
    ]


class RoomNodes:
    """The room's hosts.toml files in a cluster's nodes. `run(node, command)`
    runs a command string as root in one node."""

    def __init__(self, nodes: Callable[[], list[str]], run: Callable[[str, str], Any]) -> None:
        self.nodes = nodes
        self.run = run

    def missing(self, files: dict[str, str]) -> dict[str, list[str]]:
        """node -> the files it lacks (nodes that lack none are left out)."""
        out = {}
        for node in self.nodes():
            lacking = missing(files, str(self.run(node, check_script(files))))
            if lacking:
                out[node] = lacking
        return out

    def install(self, files: dict[str, str]) -> list[str]:
        """Write the files into every node that lacks one; the nodes written."""
        written = []
        for node, lacking in self.missing(files).items():
            self.run(node, install_script({rel: files[rel] for rel in lacking}))
            written.append(node)
        return written

    def remove(self, rels: Iterable[str]) -> None:
        for node in self.nodes():
            self.run(node, remove_script(rels))


# --- for the cluster step: any provider, those without nodes of their own have no room --


def room_of(provider: Any) -> str | None:
    """The room the provider's nodes pull through (None: none, or a cluster
    whose nodes mboxed does not reach, as `existing`)."""
    room = getattr(provider, "room", None)
    return str(room) if room and hasattr(provider, "room_nodes") else None


def missing_in(provider: Any) -> dict[str, list[str]]:
    room = room_of(provider)
    return provider.room_nodes().missing(room_files(room)) if room else {}


def install_in(provider: Any) -> tuple[list[str], list[str]]:
    """(the nodes written, the files) — nothing written when all are there."""
    room = room_of(provider)
    if not room:
        return [], []
    files = room_files(room)
    return provider.room_nodes().install(files), sorted(files)


def remove_from(provider: Any, rels: Iterable[str]) -> None:
    if hasattr(provider, "room_nodes"):
        provider.room_nodes().remove(rels)


def room_summary(room: str, nodes: Iterable[str] = ()) -> str:
    where = f" (node {', '.join(nodes)})" if nodes else ""
    return f"pull images through the room at {room}: containerd hosts.toml per registry{where}"
