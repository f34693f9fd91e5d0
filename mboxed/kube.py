"""Talking to Kubernetes: one client per kube context, one table of kinds.

Every Kubernetes call in mboxed is made in this module, with the real
`kubernetes` client and an `ApiClient` built here from a kubeconfig file: one
table of kinds, one timeout on every request, one translation of failures
(TransientError: 5xx or no answer; ApiError: refused). What "ready" means, and
the waits for it, are in mboxed.readiness.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from mboxed.errors import MboxedError, TransientError


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
    (None: the current context / the default kubeconfig), whose every request
    is bounded by REQUEST_TIMEOUT unless the call names its own."""
    from kubernetes import client as k8s
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
    # as kubernetes.config.new_client_from_config does, with our client class
    configuration = type.__call__(k8s.Configuration)
    try:
        config.load_kube_config(
            config_file=path, context=context, client_configuration=configuration
        )
    except ConfigException as exc:
        raise MboxedError(f"kubeconfig {path}: {exc}") from None
    return _bounded_client_class()(configuration=configuration)


@functools.cache
def _bounded_client_class() -> type:
    from kubernetes.client import ApiClient

    class BoundedApiClient(ApiClient):
        """The generated API methods and the dynamic client's discovery pass
        `_request_timeout=None` unless told otherwise, which waits forever on
        an API server that accepted the connection and went quiet."""

        def call_api(self, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("_request_timeout") is None:
                kwargs["_request_timeout"] = REQUEST_TIMEOUT
            return super().call_api(*args, **kwargs)

    return BoundedApiClient


def describe_api_error(exc: BaseException) -> str:
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None)
    if status:
        return f"HTTP {status} {reason or ''}".strip()
    if reason:  # ApiException(status=0): urllib3's SSL/protocol errors, wrapped
        return str(reason).splitlines()[0]
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


# --- the access layer -----------------------------------------------------------------
# Every object read, listed, deleted or patched goes through _KINDS and
# _request: one kind -> API mapping, one timeout, one translation of failures.

REQUEST_TIMEOUT = 30.0  # seconds per request (urllib3 Timeout total)


class ApiError(MboxedError):
    """The API server refused a request (HTTP 4xx other than an expected 404,
    or a TLS failure): asking again will not help."""

    def __init__(self, message: str, status: int, hint: str = "") -> None:
        super().__init__(message, hint)
        self.status = status


# kind -> (class of kubernetes.client, the resource in its method names, namespaced)
_KINDS: dict[str, tuple[str, str, bool]] = {
    "Node": ("CoreV1Api", "node", False),
    "Pod": ("CoreV1Api", "pod", True),
    "Service": ("CoreV1Api", "service", True),
    "ConfigMap": ("CoreV1Api", "config_map", True),
    "PersistentVolumeClaim": ("CoreV1Api", "persistent_volume_claim", True),
    "Deployment": ("AppsV1Api", "deployment", True),
    "StatefulSet": ("AppsV1Api", "stateful_set", True),
    "DaemonSet": ("AppsV1Api", "daemon_set", True),
    "ReplicaSet": ("AppsV1Api", "replica_set", True),
    "Job": ("BatchV1Api", "job", True),
    "IngressClass": ("NetworkingV1Api", "ingress_class", False),
}


def _method(client: Any, kind: str, verb: str, namespace: str | None) -> Callable[..., Any]:
    """`read_namespaced_job`, `list_node`, `list_service_for_all_namespaces`, ..."""
    from kubernetes import client as k8s

    api_name, resource, namespaced = _KINDS[kind]
    if not namespaced:
        name = f"{verb}_{resource}"
    elif namespace is None:
        name = f"{verb}_{resource}_for_all_namespaces"
    else:
        name = f"{verb}_namespaced_{resource}"
    return getattr(getattr(k8s, api_name)(client), name)


def _label(kind: str, namespace: str | None, name: str = "") -> str:
    what = f"{kind.lower()}/{name}" if name else f"{kind.lower()}s"
    return f"{what} in namespace {namespace}" if namespace else what


@contextlib.contextmanager
def _translated(client: Any, what: str, hint: str = "") -> Iterator[None]:
    """The one translation of the client's failures: 5xx and a server that
    does not answer are TransientError (worth a retry); any other refusal
    (404 included: callers that expect it ask _request) is ApiError."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except ApiException as exc:
        status = int(exc.status or 0)
        if status >= 500:
            raise TransientError(f"cannot {what}: {describe_api_error(exc)}") from None
        raise ApiError(f"cannot {what}: {describe_api_error(exc)}", status, hint) from None
    except (HTTPError, OSError) as exc:
        raise TransientError(
            f"the Kubernetes API at {client.configuration.host} does not answer "
            f"({what}): {describe_api_error(exc)}"
        ) from None


def _request(
    client: Any,
    what: str,
    call: Callable[..., Any],
    *args: Any,
    absent_ok: bool = False,
    hint: str = "",
    **kwargs: Any,
) -> Any:
    """`call(*args, **kwargs)`, bounded by REQUEST_TIMEOUT unless kwargs name
    another `_request_timeout`; None on 404 when `absent_ok` (absent is an
    answer, not an error)."""
    kwargs.setdefault("_request_timeout", REQUEST_TIMEOUT)
    try:
        with _translated(client, what, hint):
            return call(*args, **kwargs)
    except ApiError as exc:
        if exc.status == 404 and absent_ok:
            return None
        raise


def _json(raw: Any) -> Any:
    return json.loads(raw.data or b"{}")


def read_object(
    client: Any, kind: str, namespace: str | None, name: str, *, hint: str = ""
) -> dict[str, Any] | None:
    """One object as API JSON, or None when it does not exist."""
    method = _method(client, kind, "read", namespace)
    args = (name, namespace) if _KINDS[kind][2] else (name,)
    raw = _request(
        client,
        f"read {_label(kind, namespace, name)}",
        method,
        *args,
        absent_ok=True,
        hint=hint,
        _preload_content=False,
    )
    if raw is None:
        return None
    data: dict[str, Any] = _json(raw)
    data.setdefault("kind", kind)
    return data


METADATA_LIST = "PartialObjectMetadataList;g=meta.k8s.io;v=v1"


def list_objects(
    client: Any, kind: str, namespace: str | None = None, *, metadata: bool = False
) -> list[dict[str, Any]]:
    """Every object of a kind (in a namespace; None: in all, or cluster-scoped),
    each with its `kind` set (list items carry none); with `metadata`, only
    each object's metadata (a PartialObjectMetadataList: no data to carry)."""
    method = _method(client, kind, "list", namespace)
    args = (namespace,) if _KINDS[kind][2] and namespace is not None else ()
    accept = f"application/json;as={METADATA_LIST}"
    extra: dict[str, Any] = {"_headers": {"Accept": accept}} if metadata else {}
    what = f"list {_label(kind, namespace)}"
    raw = _request(client, what, method, *args, _preload_content=False, **extra)
    items: list[dict[str, Any]] = _json(raw).get("items") or []
    for item in items:
        item.setdefault("kind", kind)
    return items


def delete_object(
    client: Any,
    kind: str,
    namespace: str,
    name: str,
    *,
    propagation_policy: str | None = None,
    hint: str = "",
) -> dict[str, Any] | None:
    """Delete one namespaced object: the API's answer, or None when it was gone."""
    method = _method(client, kind, "delete", namespace)
    extra = {"propagation_policy": propagation_policy} if propagation_policy else {}
    raw = _request(
        client,
        f"delete {_label(kind, namespace, name)}",
        method,
        name,
        namespace,
        absent_ok=True,
        hint=hint,
        _preload_content=False,
        **extra,
    )
    return None if raw is None else dict(_json(raw))


def patch_object(
    client: Any, kind: str, namespace: str, name: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    """Patch one namespaced object (the client sends a dict as a strategic merge
    patch: kubernetes/client/rest.py)."""
    method = _method(client, kind, "patch", namespace)
    raw = _request(
        client,
        f"patch {_label(kind, namespace, name)}",
        method,
        name,
        namespace,
        dict(body),
        _preload_content=False,
    )
    return dict(_json(raw))


def pod_log(
    client: Any, namespace: str, pod: str, container: str, *, tail_lines: int, previous: bool
) -> str:
    """The last lines a container wrote (`previous`: its crashed instance)."""
    from kubernetes import client as k8s

    raw = _request(
        client,
        f"read the log of pod/{pod} in namespace {namespace}",
        k8s.CoreV1Api(client).read_namespaced_pod_log,
        pod,
        namespace,
        container=container or None,
        tail_lines=tail_lines,
        previous=previous,
        _preload_content=False,
        _request_timeout=15,
    )
    return bytes(raw.data or b"").decode("utf-8", "replace")


def server_version(client: Any) -> str:
    """GET /version; TransientError when the API server does not answer."""
    from kubernetes import client as k8s

    raw = _request(
        client,
        "read the server version",
        k8s.VersionApi(client).get_code,
        _preload_content=False,
        _request_timeout=10,
    )
    return str(_json(raw).get("gitVersion", ""))


# --- applying manifests -----------------------------------------------------------


def apply_manifests(
    client: Any, documents: Iterable[Mapping[str, Any]], *, field_manager: str = "mboxed"
) -> list[str]:
    """Server-side apply of each object (create or update), like
    `kubectl apply --server-side`. Returns "kind/name" of each object."""
    import tempfile

    from kubernetes.dynamic import DynamicClient

    applied: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mboxed-discovery-") as tmp:
        # The discovery cache would otherwise land in a shared /tmp file.
        with _translated(client, "discover the API's resources"):
            dynamic = DynamicClient(client, cache_file=str(Path(tmp) / "discovery.json"))
        for doc in filter(None, documents):
            meta = doc.get("metadata", {})
            label = f"{doc['kind'].lower()}/{meta['name']}"
            with _translated(client, f"apply {label}"):
                resource = dynamic.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
                namespaced = resource.namespaced
                dynamic.server_side_apply(
                    resource,
                    body=dict(doc),
                    name=meta["name"],
                    namespace=(meta.get("namespace") or "default") if namespaced else None,
                    field_manager=field_manager,
                    force_conflicts=True,
                    _request_timeout=REQUEST_TIMEOUT,
                )
            applied.append(label)
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
        review = _request(
            client,
            f"ask whether {verb} {resource} is allowed",
            auth.create_self_subject_access_review,
            body,
        )
        if not (review.status and review.status.allowed):
            where = f" in namespace {namespace}" if namespace else " (cluster-wide)"
            full = f"{resource}.{group}" if group else resource
            denied.append(f"{verb} {full}{where}")
    return denied
