"""Pulls onto every node of an existing cluster with a pre-pull DaemonSet
that mboxed creates and removes: the cluster's own kubelets pull, through
whatever runtime, registry credentials and mirrors the cluster has.

The pattern is z2jh's hook-image-puller (jupyterhub chart 1.2.0,
templates/image-puller/_helpers-daemonset.tpl): a DaemonSet whose init
containers name the images, each running a no-op
(`/bin/sh -c 'echo "Pulling complete"'`), so the kubelet of every node pulls
them, and whose pods are watched until every node has them. z2jh puts every
image in one pod and assumes each has /bin/sh: it makes no provision for an
image without one (its init container fails to start, and the init
containers after it never run). Here each image gets a DaemonSet of its
own, and a node counts as done once its init container has an `imageID` (the
runtime created a container from the image: it is pulled, whether or not
the no-op could run), so an image without a shell blocks nothing.

Progress is in nodes: how many have the image. A failed pull is the
kubelet's `ErrImagePull` message (the registry's answer). The DaemonSet is
deleted when its image is on every node, when the pull fails, and on `down`.

A node's runtime that mboxed does not own cannot be told to point a tag at
pinned bits (as `docker tag` / `ctr images tag` do on minikube and kind):
this puller pulls the tag the pods name and records the digest it resolved
to; `points_tags = False` tells the images step so.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from mboxed import kube
from mboxed.errors import MboxedError
from mboxed.images.pull import NodeImage, NodeUnreachable, Progress, Pulled, normalised
from mboxed.images.pull import pull_failed as _pull_failed
from mboxed.images.reference import Reference

MANAGED = {"app.kubernetes.io/managed-by": "mboxed", "app.kubernetes.io/component": "image-pull"}
POD_LABEL = "mboxed.io/pull"
NOOP = ["/bin/sh", "-c", 'echo "Pulling complete"']
# kubelet waiting reasons of a pull that failed (pkg/kubelet/images/types.go)
FAILED = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")


def daemonset_name(image: str) -> str:
    return "mboxed-pull-" + hashlib.sha256(image.encode()).hexdigest()[:12]


def daemonset(image: str, namespace: str) -> dict[str, Any]:
    """The pre-pull DaemonSet of one image: its init container pulls it on
    every node (tolerating every taint, control plane included)."""
    name = daemonset_name(image)
    container = {
        "name": "pull",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": NOOP,
        "resources": {"requests": {"cpu": "0", "memory": "0"}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED)},
        "spec": {
            "selector": {"matchLabels": {POD_LABEL: name}},
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "100%"},
            },
            "template": {
                "metadata": {"labels": {**MANAGED, POD_LABEL: name}},
                "spec": {
                    "terminationGracePeriodSeconds": 0,
                    "automountServiceAccountToken": False,
                    "tolerations": [{"operator": "Exists"}],
                    "initContainers": [container],
                    # the same image again: no other image to pull; the pod is
                    # deleted as soon as every node has the init container's
                    "containers": [{**container, "name": "done"}],
                },
            },
        },
    }


def node_images(nodes: list[dict[str, Any]]) -> list[NodeImage]:
    """The images every node lists in `status.images` (the kubelet lists up
    to 50, the largest first: a small image may be there unlisted, and is
    then "pulled" again in no time)."""
    per_node = []
    for node in nodes:
        found = []
        for entry in (node.get("status") or {}).get("images") or []:
            names = {n for n in (normalised(str(x)) for x in entry.get("names") or []) if n}
            tags = frozenset(n for n in names if "@" not in n)
            digests = frozenset(n for n in names if "@" in n)
            image_id = next((d.partition("@")[2] for d in sorted(digests)), "")
            found.append(NodeImage(image_id, tags, digests, int(entry.get("sizeBytes") or 0)))
        per_node.append(found)
    if not per_node:
        return []
    first, others = per_node[0], per_node[1:]

    def everywhere(image: NodeImage) -> bool:
        return all(any(image.digests & o.digests or image.tags & o.tags for o in n) for n in others)

    return [image for image in first if everywhere(image)]


class DaemonSetPuller:
    progress_unit = "nodes"
    points_tags = False

    def __init__(
        self,
        client: Any,
        namespace: str,
        *,
        interval: float = 1.0,
        timeout: float = 3600.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.interval = interval
        self.timeout = timeout
        self._sleep = sleep

    def images(self) -> list[NodeImage]:
        try:
            return node_images(kube.list_objects(self.client, "Node"))
        except MboxedError as exc:
            raise NodeUnreachable(f"the cluster's nodes: {exc.message}") from None

    def pull(self, reference: Reference, progress: Progress) -> Pulled:
        image = str(reference)
        name = daemonset_name(image)
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}}
        kube.apply_manifests(self.client, [namespace, daemonset(image, self.namespace)])
        try:
            digest = self._await(name, image, progress)
        finally:
            kube.delete_object(
                self.client, "DaemonSet", self.namespace, name, propagation_policy="Background"
            )
        store = self.images()
        size = next((i.size for i in store if f"{reference.repository}@{digest}" in i.digests), 0)
        return Pulled(digest, size)

    def _await(self, name: str, image: str, progress: Progress) -> str:
        """Poll the DaemonSet's pods until every node has the image: its digest."""
        deadline = time.monotonic() + self.timeout
        answer = ""
        while True:
            nodes = len(kube.list_objects(self.client, "Node"))
            pods = [
                p
                for p in kube.list_objects(self.client, "Pod", self.namespace)
                if (p["metadata"].get("labels") or {}).get(POD_LABEL) == name
            ]
            done, digest = 0, ""
            for pod in pods:
                inits = (pod.get("status") or {}).get("initContainerStatuses") or [{}]
                status: dict[str, Any] = inits[0]
                image_id = str(status.get("imageID") or "")
                if image_id:  # repo@sha256:… (cri-dockerd: docker-pullable://repo@…)
                    done, digest = done + 1, image_id.rpartition("@")[2]
                    continue
                waiting = (status.get("state") or {}).get("waiting") or {}
                if waiting.get("reason") == "ErrImagePull":
                    answer = str(waiting.get("message") or "")
                elif waiting.get("reason") in FAILED:
                    node = pod["spec"].get("nodeName", "?")
                    said = answer or str(waiting.get("message") or waiting["reason"])
                    raise _pull_failed(image, f"node {node}: {said}")
            progress(done, nodes)
            if nodes and done >= nodes:
                return digest
            if time.monotonic() > deadline:
                late = f"{done} of {nodes} nodes have it after {self.timeout:g}s"
                raise _pull_failed(image, late)
            self._sleep(self.interval)

    def tag(self, pinned: Reference, tag: Reference) -> None:
        """Nothing: the pods' tag was pulled itself (see the module docstring)."""

    def remove_all(self) -> list[str]:
        """Delete every pre-pull DaemonSet mboxed left (a killed run's; `down`)."""
        removed = []
        for ds in kube.list_objects(self.client, "DaemonSet", self.namespace):
            labels = ds["metadata"].get("labels") or {}
            if all(labels.get(k) == v for k, v in MANAGED.items()):
                kube.delete_object(
                    self.client,
                    "DaemonSet",
                    self.namespace,
                    ds["metadata"]["name"],
                    propagation_policy="Background",
                )
                removed.append(ds["metadata"]["name"])
        return removed
