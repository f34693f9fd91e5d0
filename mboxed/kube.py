"""Talking to Kubernetes: one client per kube context, readiness checks, waits.

Every Kubernetes call in mboxed goes through an `ApiClient` built here from a
kubeconfig file with the real `kubernetes` client. Readiness follows what
`kubectl rollout status` checks (k8s.io/kubectl/pkg/polymorphichelpers/
rollout_status.go): a workload is ready when the controller has observed its
latest generation and all its replicas are updated and ready.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mboxed.errors import MboxedError, TransientError

Progress = Callable[[str], None]


def _default_kubeconfig() -> str:
    """What kubectl reads: the first file of $KUBECONFIG, else ~/.kube/config."""
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return first or str(Path.home() / ".kube" / "config")


def kubeconfig_path(kubeconfig: str | None) -> str:
    return kubeconfig or _default_kubeconfig()


def list_contexts(kubeconfig: str | None) -> tuple[list[str], str | None]:
    """The context names in a kubeconfig and its current context ([] if no file)."""
    from kubernetes.config import list_kube_config_contexts
    from kubernetes.config.config_exception import ConfigException

    path = kubeconfig_path(kubeconfig)
    if not Path(path).is_file():
        return [], None
    try:
        contexts, current = list_kube_config_contexts(config_file=path)
    except ConfigException:
        return [], None
    names = [str(c["name"]) for c in contexts or []]
    return names, (str(current["name"]) if current else None)


def api_client(context: str | None, kubeconfig: str | None) -> Any:
    """A `kubernetes.client.ApiClient` for one context of a kubeconfig file
    (None: the current context / the default kubeconfig)."""
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    path = kubeconfig_path(kubeconfig)
    if not Path(path).is_file():
        raise MboxedError(
            f"kubeconfig {path} does not exist",
            hint="set provider.context to a context of an existing kubeconfig, "
            "or point KUBECONFIG at one",
        )
    names, _current = list_contexts(path)
    if context is not None and context not in names:
        raise MboxedError(
            f"kube context {context!r} is not in {path}",
            hint="contexts there: " + (", ".join(names) if names else "(none)"),
        )
    try:
        return config.new_client_from_config(config_file=path, context=context)
    except ConfigException as exc:
        raise MboxedError(f"kubeconfig {path}: {exc}") from None


def describe_api_error(exc: BaseException) -> str:
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None)
    if status:
        return f"HTTP {status} {reason or ''}".strip()
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def server_version(client: Any) -> str:
    """GET /version; TransientError when the API server does not answer."""
    from kubernetes import client as k8s
    from urllib3.exceptions import HTTPError

    try:
        return str(k8s.VersionApi(client).get_code(_request_timeout=10).git_version)
    except (HTTPError, OSError) as exc:
        raise TransientError(
            f"the Kubernetes API at {client.configuration.host} does not answer: "
            f"{describe_api_error(exc)}"
        ) from None


# --- readiness ------------------------------------------------------------------


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


_WORKLOAD_READERS = {
    "Deployment": ("AppsV1Api", "read_namespaced_deployment"),
    "StatefulSet": ("AppsV1Api", "read_namespaced_stateful_set"),
    "DaemonSet": ("AppsV1Api", "read_namespaced_daemon_set"),
}


def read_object(client: Any, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    """One workload as API JSON, or None when it does not exist."""
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException

    api_name, method = _WORKLOAD_READERS[kind]
    api = getattr(k8s, api_name)(client)
    try:
        obj = getattr(api, method)(name, namespace, _preload_content=False)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    data: dict[str, Any] = json.loads(obj.data)
    data.setdefault("kind", kind)
    return data


def list_nodes(client: Any) -> list[dict[str, Any]]:
    from kubernetes import client as k8s

    raw = k8s.CoreV1Api(client).list_node(_preload_content=False)
    items: list[dict[str, Any]] = json.loads(raw.data).get("items", [])
    return items


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
    yet (the API server may be warming up)."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    deadline = time.monotonic() + timeout
    last = ""
    while True:
        try:
            ok, detail = check()
        except (TransientError, OSError, ApiException, HTTPError) as exc:
            ok, detail = False, describe_api_error(exc)
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
        states = [node_readiness(n) for n in list_nodes(client)]
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
        obj = read_object(client, kind, namespace, name)
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


# --- applying manifests -----------------------------------------------------------


def apply_manifests(
    client: Any, documents: Iterable[Mapping[str, Any]], *, field_manager: str = "mboxed"
) -> list[str]:
    """Server-side apply of each object (create or update), like
    `kubectl apply --server-side`. Returns "kind/name" of each object."""
    import tempfile

    from kubernetes.dynamic import DynamicClient

    with tempfile.TemporaryDirectory(prefix="mboxed-discovery-") as tmp:
        # The discovery cache would otherwise land in a shared /tmp file.
        dynamic = DynamicClient(client, cache_file=str(Path(tmp) / "discovery.json"))
        return _apply_all(dynamic, documents, field_manager)


def _apply_all(
    dynamic: Any, documents: Iterable[Mapping[str, Any]], field_manager: str
) -> list[str]:
    applied: list[str] = []
    for doc in documents:
        if not doc:
            continue
        resource = dynamic.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        meta = doc.get("metadata", {})
        namespace = meta.get("namespace") if resource.namespaced else None
        if resource.namespaced and not namespace:
            namespace = "default"
        dynamic.server_side_apply(
            resource,
            body=dict(doc),
            name=meta["name"],
            namespace=namespace,
            field_manager=field_manager,
            force_conflicts=True,
        )
        applied.append(f"{doc['kind'].lower()}/{meta['name']}")
    return applied


def missing_permissions(client: Any, checks: Sequence[tuple[str, str, str, str]]) -> list[str]:
    """Ask the API server (SelfSubjectAccessReview) about each (verb, group,
    resource, namespace); return those denied, as "verb resource"."""
    from kubernetes import client as k8s

    auth = k8s.AuthorizationV1Api(client)
    denied = []
    for verb, group, resource, namespace in checks:
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "verb": verb,
                    "group": group,
                    "resource": resource,
                    **({"namespace": namespace} if namespace else {}),
                }
            },
        }
        review = auth.create_self_subject_access_review(body)
        if not (review.status and review.status.allowed):
            where = f" in namespace {namespace}" if namespace else " (cluster-wide)"
            full = f"{resource}.{group}" if group else resource
            denied.append(f"{verb} {full}{where}")
    return denied
