"""Pulls into a Docker engine: minikube's node runs its own dockerd, and
`minikube docker-env` says how to reach it.

`minikube docker-env --shell none -o json` (kubernetes/minikube
cmd/minikube/cmd/docker-env.go at v1.34.0, dockerSetScript/dockerEnvVars)
prints one JSON object: DOCKER_HOST (tcp://IP:2376, or ssh:// with --ssh-host),
DOCKER_TLS_VERIFY "1", DOCKER_CERT_PATH (the directory with ca.pem,
cert.pem, key.pem), MINIKUBE_ACTIVE_DOCKERD, and SSH agent keys.

The pull streams the engine's JSON messages (Engine API POST
/images/create): per layer `{"status": "Downloading", "progressDetail":
{"current", "total"}, "id"}`, then `"Digest: sha256:…"`; an error arrives as
`{"error": …}` in the stream or as an HTTP error before it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mboxed.images.pull import (
    NodeImage,
    NodeUnreachable,
    Progress,
    Pulled,
    normalised,
    pull_failed,
)
from mboxed.images.reference import Reference


def parse_docker_env(stdout: str) -> dict[str, str]:
    """`minikube docker-env --shell none -o json` -> its variables."""
    try:
        found = json.loads(stdout)
    except ValueError as exc:
        raise ValueError(f"minikube docker-env printed no JSON: {stdout[:200]!r}") from exc
    if not isinstance(found, dict) or not found.get("DOCKER_HOST"):
        raise ValueError(f"minikube docker-env printed no DOCKER_HOST: {stdout[:200]!r}")
    return {str(k): str(v) for k, v in found.items()}


def client_for(env: Mapping[str, str]) -> Any:
    """A docker APIClient for the endpoint and certificates of an environment."""
    import docker

    try:
        tls: Any = False
        if env.get("DOCKER_TLS_VERIFY") == "1" and env.get("DOCKER_CERT_PATH"):
            certs = Path(env["DOCKER_CERT_PATH"])
            tls = docker.tls.TLSConfig(
                client_cert=(str(certs / "cert.pem"), str(certs / "key.pem")),
                ca_cert=str(certs / "ca.pem"),
                verify=True,
            )
        return docker.APIClient(base_url=env["DOCKER_HOST"], tls=tls, timeout=600, version="auto")
    except docker.errors.DockerException as exc:
        raise NodeUnreachable(f"the node's Docker engine at {env['DOCKER_HOST']}: {exc}") from None


@dataclass
class LayerProgress:
    """Per-layer byte counts of one pull (a layer's total is known once it starts)."""

    layers: dict[str, tuple[int, int]] = field(default_factory=dict)

    def feed(self, message: Mapping[str, Any]) -> bool:
        """Take one stream message; True when the byte counts changed."""
        detail = message.get("progressDetail") or {}
        layer = str(message.get("id") or "")
        status = str(message.get("status") or "")
        if not layer:
            return False
        if status == "Downloading" and detail.get("total"):
            self.layers[layer] = (int(detail.get("current") or 0), int(detail["total"]))
            return True
        if (
            status in ("Download complete", "Pull complete", "Already exists")
            and layer in self.layers
        ):
            total = self.layers[layer][1]
            self.layers[layer] = (total, total)
            return True
        return False

    @property
    def done(self) -> int:
        return sum(current for current, _ in self.layers.values())

    @property
    def total(self) -> int:
        return sum(total for _, total in self.layers.values())


def stream_digest(messages: Iterable[Mapping[str, Any]], progress: Progress, image: str) -> str:
    """Follow a pull's messages; the digest it resolved. Raises PullFailed."""
    layers = LayerProgress()
    digest = ""
    for message in messages:
        if message.get("error"):
            raise pull_failed(image, str(message["error"]))
        status = str(message.get("status") or "")
        if status.startswith("Digest: "):
            digest = status.removeprefix("Digest: ").strip()
        if layers.feed(message):
            progress(layers.done, layers.total)
    progress(layers.total, layers.total)
    return digest


def node_images(rows: Iterable[Mapping[str, Any]]) -> list[NodeImage]:
    """GET /images/json rows -> the node's store, names normalised."""
    found = []
    for row in rows:
        tags = frozenset(n for n in map(normalised, row.get("RepoTags") or ()) if n)
        digests = frozenset(n for n in map(normalised, row.get("RepoDigests") or ()) if n)
        found.append(NodeImage(str(row.get("Id") or ""), tags, digests, int(row.get("Size") or 0)))
    return found


class DockerPuller:
    """Pulls through a Docker engine's API (the docker SDK's low-level client)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def images(self) -> list[NodeImage]:
        import docker

        try:
            return node_images(self.client.images())
        except docker.errors.DockerException as exc:
            raise NodeUnreachable(f"the node's Docker engine: {exc}") from None

    def pull(self, reference: Reference, progress: Progress) -> Pulled:
        import docker

        tag = reference.digest or reference.tag
        try:
            messages = self.client.pull(reference.repository, tag=tag, stream=True, decode=True)
            digest = stream_digest(messages, progress, str(reference))
            info = self.client.inspect_image(
                f"{reference.repository}@{digest}" if digest else str(reference)
            )
        except docker.errors.APIError as exc:
            raise pull_failed(str(reference), str(exc.explanation or exc)) from None
        except docker.errors.DockerException as exc:
            raise pull_failed(str(reference), str(exc)) from None
        return Pulled(digest or reference.digest, int(info.get("Size") or 0))

    def tag(self, pinned: Reference, tag: Reference) -> None:
        self.client.tag(pinned.pinned, tag.repository, tag.tag, force=True)
