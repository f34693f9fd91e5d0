"""Is it ready yet: the checks `kubectl rollout status` makes, on plain API
JSON, and the bounded waits that poll them through mboxed.kube.

Readiness follows k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go: a
workload is ready when the controller has observed its latest generation and
all its replicas are updated and ready; a node when its Ready condition is True.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mboxed import kube
from mboxed.errors import MboxedError, TransientError

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Readiness:
    name: str
    ready: bool
    detail: str

    def __str__(self) -> str:
        return f"{self.name}: {self.detail}"


def node_readiness(node: Mapping[str, Any]) -> Readiness:
    """A node (API JSON) is ready when its Ready condition is True."""
    name = node.get("metadata", {}).get("name", "?")
    for cond in node.get("status", {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            if cond.get("status") == "True":
                return Readiness(name, True, "Ready")
            why = cond.get("message") or cond.get("reason") or "not ready"
            return Readiness(name, False, f"NotReady ({why})")
    return Readiness(name, False, "no Ready condition yet")


def workload_readiness(obj: Mapping[str, Any]) -> Readiness:
    """Deployment / StatefulSet / DaemonSet ready as `kubectl rollout status` sees it."""
    kind = obj.get("kind", "")
    meta = obj.get("metadata", {})
    name = f"{kind.lower()}/{meta.get('name', '?')}"
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    generation = meta.get("generation", 0)
    if status.get("observedGeneration", 0) < generation:
        return Readiness(name, False, "waiting for the controller to observe the new spec")
    if kind == "DaemonSet":
        want = int(status.get("desiredNumberScheduled", 0))
        updated = int(status.get("updatedNumberScheduled", 0))
        ready = int(status.get("numberAvailable", status.get("numberReady", 0)))
        ok = want > 0 and updated >= want and ready >= want
        return Readiness(name, ok, f"{ready}/{want} ready")
    want = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas", 0))
    ready = int(status.get("readyReplicas", 0) or 0)
    ok = updated >= want and ready >= want
    return Readiness(name, ok, f"{ready}/{want} ready")


def wait_for(
    check: Callable[[], tuple[bool, str]],
    *,
    what: str,
    timeout: float,
    interval: float = 2.0,
    progress: Progress | None = None,
    hint: str = "",
) -> None:
    """Poll `check` until it says ready, at most `timeout` seconds; report each
    new state through `progress`. API errors while polling count as not ready
    yet (the API server may be warming up, and refuse until its RBAC is)."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        try:
            ok, detail = check()
        except (TransientError, kube.ApiError) as exc:
            ok, detail = False, kube.describe_api_error(exc)
        if ok:
            if progress is not None:
                progress(f"{what}: {detail}")
            return
        if detail != last and progress is not None:
            progress(f"{what}: {detail}")
        last = detail
        if time.monotonic() >= deadline:
            raise MboxedError(
                f"{what} not ready after {timeout:g}s: {detail}",
                hint=hint or "see `kubectl get pods -A` for what is stuck",
            )
        time.sleep(interval)


def wait_nodes_ready(
    client: Any, *, timeout: float = 300, interval: float = 2.0, progress: Progress | None = None
) -> None:
    def check() -> tuple[bool, str]:
        states = [node_readiness(n) for n in kube.list_objects(client, "Node")]
        if not states:
            return False, "no nodes registered yet"
        ready = sum(s.ready for s in states)
        waiting = [str(s) for s in states if not s.ready]
        detail = f"{ready}/{len(states)} ready" + (f" ({'; '.join(waiting)})" if waiting else "")
        return ready == len(states), detail

    wait_for(check, what="nodes", timeout=timeout, interval=interval, progress=progress)


def wait_workload_ready(
    client: Any,
    kind: str,
    namespace: str,
    name: str,
    *,
    timeout: float = 300,
    interval: float = 2.0,
    progress: Progress | None = None,
) -> None:
    def check() -> tuple[bool, str]:
        obj = kube.read_object(client, kind, namespace, name)
        if obj is None:
            return False, "not created yet"
        state = workload_readiness(obj)
        return state.ready, state.detail

    wait_for(
        check,
        what=f"{kind.lower()} {namespace}/{name}",
        timeout=timeout,
        interval=interval,
        progress=progress,
    )
