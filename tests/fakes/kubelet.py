"""The kubelets of the fake API's Nodes, for the pods a DaemonSet makes:
each node has an image store, init containers run one after the other, and
an init container's image is pulled (taking time) unless the node has it.

What is modelled, from the kubelet (kubernetes/kubernetes v1.31):
- a DaemonSet gets one Pod per Node, owned by it (ownerReferences,
  `spec.nodeName`), and its pods go when it is deleted (the garbage
  collector, pkg/controller/garbagecollector);
- init containers run in order; one not started yet waits with reason
  `PodInitializing` (pkg/kubelet/kubelet_pods.go,
  convertToAPIContainerStatuses); a pull that fails waits with
  `ErrImagePull` and the runtime's message, then `ImagePullBackOff` with
  `Back-off pulling image "…"` (pkg/kubelet/images/image_manager.go), and
  the init containers after it never start;
- a finished init container is `terminated` with reason `Completed`, exit
  code 0 and its `imageID` (repository@sha256:…, as containerd names it);
- `imagePullPolicy: IfNotPresent` pulls only what the node lacks; the
  node's `status.images` lists its images, each with `names` (repo digests
  and tags) and `sizeBytes` (pkg/kubelet/nodestatus/setters.go, Images).

Not modelled: the no-op command itself (it is taken to succeed), restarts,
serialised pulls across pods (one pod per node pulls here at a time anyway).
"""

from __future__ import annotations

import copy
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from mboxed.images.reference import parse


@dataclass
class _Run:
    """Where one pod's init containers are: the running one and since when."""

    index: int = 0
    since: float = field(default_factory=time.monotonic)
    failed_at: float = 0.0


@dataclass
class Kubelets:
    """`registry`: reference as a pod names it -> (digest, size) the registry
    serves (absent: `not found`); `pull_seconds`: how long a pull takes on a
    node (default `default_seconds`)."""

    registry: dict[str, tuple[str, int]] = field(default_factory=dict)
    # images not in `registry`: served with a digest made from their name
    # (serve_all), or `not found`; `missing` are never served
    serve_all: bool = True
    missing: set[str] = field(default_factory=set)
    pull_seconds: dict[str, float] = field(default_factory=dict)
    default_seconds: float = 0.2
    pulls: list[tuple[str, str]] = field(default_factory=list)  # (node, image)
    # (node, image, started, ended), wall-clock seconds: what overlapped what
    pull_times: list[tuple[str, str, float, float]] = field(default_factory=list)
    _runs: dict[str, _Run] = field(default_factory=dict)

    def served(self, image: str) -> tuple[str, int] | None:
        if image in self.missing:
            return None
        if image in self.registry or not self.serve_all:
            return self.registry.get(image)
        return "sha256:" + hashlib.sha256(image.encode()).hexdigest(), 1000 + len(image)

    # -- the node's image store ---------------------------------------------------
    @staticmethod
    def _images(node: dict[str, Any]) -> list[dict[str, Any]]:
        return node.setdefault("status", {}).setdefault("images", [])

    def _has(self, node: dict[str, Any], image: str) -> str:
        """The digest the node has for an image ("" if none)."""
        ref = parse(image)
        wanted = ref.pinned if ref.digest else ref.tagged
        for entry in self._images(node):
            names = {str(parse(n)) if "@" in n else parse(n).tagged for n in entry["names"]}
            if wanted in names:
                return next(n for n in entry["names"] if "@" in n).partition("@")[2]
        return ""

    def _store(self, node: dict[str, Any], image: str, digest: str, size: int) -> None:
        ref = parse(image)
        names = [f"{ref.repository}@{digest}", *([ref.tagged] if ref.tag else [])]
        images = self._images(node)
        for entry in images:
            if f"{ref.repository}@{digest}" in entry["names"]:
                entry["names"] = sorted(set(entry["names"]) | set(names))
                return
        images.append({"names": names, "sizeBytes": size})

    # -- the controllers and the kubelets -------------------------------------------
    def sync(self, store: dict[Any, dict[str, Any]]) -> None:
        """Bring the store up to now: pods for new DaemonSets, pods of deleted
        ones gone, and each pod's init containers as far as time allows."""
        nodes = {k[3]: o for k, o in store.items() if k[1] == "nodes"}
        sets = {o["metadata"]["uid"]: (k, o) for k, o in store.items() if k[1] == "daemonsets"}
        pods = {k: o for k, o in store.items() if k[1] == "pods"}
        for key, pod in pods.items():
            owner = next(iter(pod["metadata"].get("ownerReferences") or []), None)
            if owner and owner.get("kind") == "DaemonSet" and owner["uid"] not in sets:
                del store[key]
                self._runs.pop(pod["metadata"]["uid"], None)
        owned = {
            (o["metadata"]["ownerReferences"][0]["uid"], o["spec"]["nodeName"])
            for k, o in store.items()
            if k[1] == "pods" and o["metadata"].get("ownerReferences")
        }
        for uid, (key, ds) in sets.items():
            for node in nodes:
                if (uid, node) not in owned:
                    pod = self._pod_for(ds, node)
                    store[("v1", "pods", key[2], pod["metadata"]["name"])] = pod
        for key, pod in list(store.items()):
            if key[1] == "pods" and pod["metadata"]["uid"] in self._runs:
                node = nodes.get(pod["spec"]["nodeName"])
                if node is not None:
                    self._advance(pod, node)

    def _pod_for(self, ds: dict[str, Any], node: str) -> dict[str, Any]:
        template = copy.deepcopy(ds["spec"]["template"])
        meta = template.get("metadata") or {}
        name = f"{ds['metadata']['name']}-{uuid.uuid4().hex[:5]}"
        pod: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": ds["metadata"]["namespace"],
                "uid": str(uuid.uuid4()),
                "labels": dict(meta.get("labels") or {}),
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "DaemonSet",
                        "name": ds["metadata"]["name"],
                        "uid": ds["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": {**template["spec"], "nodeName": node},
            "status": {"phase": "Pending"},
        }
        self._runs[pod["metadata"]["uid"]] = _Run()
        return pod

    def _advance(self, pod: dict[str, Any], node: dict[str, Any]) -> None:
        run = self._runs[pod["metadata"]["uid"]]
        inits = pod["spec"].get("initContainers") or []
        seconds = self.pull_seconds.get(node["metadata"]["name"], self.default_seconds)
        now = time.monotonic()
        while run.index < len(inits) and not run.failed_at:
            image = inits[run.index]["image"]
            if self._has(node, image):
                run.index, run.since = run.index + 1, run.since  # no pull: at once
                continue
            if now - run.since < seconds:
                break
            served = self.served(image)
            if served is None:
                run.failed_at = run.since + seconds
                break
            self.pulls.append((node["metadata"]["name"], image))
            wall = time.time() - now  # monotonic -> wall clock
            self.pull_times.append(
                (node["metadata"]["name"], image, wall + run.since, wall + run.since + seconds)
            )
            self._store(node, image, *served)
            run.index, run.since = run.index + 1, run.since + seconds
        pod["status"] = self._status(pod, node, run, now)

    def _status(
        self, pod: dict[str, Any], node: dict[str, Any], run: _Run, now: float
    ) -> dict[str, Any]:
        statuses = []
        for n, container in enumerate(pod["spec"].get("initContainers") or []):
            image = container["image"]
            status: dict[str, Any] = {
                "name": container["name"],
                "image": image,
                "imageID": "",
                "ready": False,
                "restartCount": 0,
            }
            if n < run.index:
                ref = parse(image)
                status["imageID"] = f"{ref.repository}@{self._has(node, image)}"
                status["state"] = {"terminated": {"exitCode": 0, "reason": "Completed"}}
                status["ready"] = True
            elif n == run.index and run.failed_at:
                backoff = now - run.failed_at > self.default_seconds
                status["state"] = {
                    "waiting": {
                        "reason": "ImagePullBackOff" if backoff else "ErrImagePull",
                        "message": f'Back-off pulling image "{image}"'
                        if backoff
                        else f'failed to pull and unpack image "{image}": failed to resolve '
                        f'reference "{image}": {image}: not found',
                    }
                }
            else:
                status["state"] = {"waiting": {"reason": "PodInitializing"}}
            statuses.append(status)
        done = run.index >= len(pod["spec"].get("initContainers") or [])
        return {
            "phase": "Running" if done else "Pending",
            "hostIP": "172.18.0.2",
            "initContainerStatuses": statuses,
        }
