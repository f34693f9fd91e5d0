"""A Kubernetes API stand-in: a real HTTP server on 127.0.0.1 serving API JSON.

A live API server cannot run on this machine, so tests point the real
`kubernetes` Python client (through a kubeconfig this module writes) at this
server. It is stateful: objects added with `.add()` or created by the client
with POST are listed, fetched, replaced, patched and deleted like the real
thing, with the REST paths, list kinds and `Status` error bodies of the
Kubernetes API (https://kubernetes.io/docs/reference/using-api/api-concepts/,
and k8s.io/apimachinery/pkg/apis/meta/v1/types.go for `Status`).

Usage:

    with KubeAPIServer() as api:
        api.add(load_object("node-minikube-ready.json"))
        api.write_kubeconfig(tmp_path / "kubeconfig", context="fake")
        ...
        assert api.objects("ConfigMap")

Simplifications (documented so nobody mistakes them for the real thing):
strategic-merge-patch is applied as a JSON merge patch (RFC 7386), so lists
are replaced rather than merged by key; `watch=true` is not supported;
`SelfSubjectAccessReview` is answered by `.access` (allow everything by
default); `SelfSubjectRulesReview` returns `.rules`. Server-side apply
(`application/apply-patch+yaml`) creates or merges without field ownership.
With `controllers=True` the server also plays kube-controller-manager for
workloads: a Deployment, StatefulSet or DaemonSet written to it reports all
its replicas ready at once. With `.kubelets` set (tests/fakes/kubelet.py) a
DaemonSet also gets its pods, one per Node, whose init containers pull their
images into the nodes' image stores over time.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

RECORDED = Path(__file__).resolve().parent / "k8s"

# (group/version, plural) -> (kind, namespaced). group "" is the core group.
RESOURCES: dict[tuple[str, str], tuple[str, bool]] = {
    ("v1", "pods"): ("Pod", True),
    ("v1", "nodes"): ("Node", False),
    ("v1", "namespaces"): ("Namespace", False),
    ("v1", "configmaps"): ("ConfigMap", True),
    ("v1", "secrets"): ("Secret", True),
    ("v1", "services"): ("Service", True),
    ("v1", "endpoints"): ("Endpoints", True),
    ("v1", "events"): ("Event", True),
    ("v1", "serviceaccounts"): ("ServiceAccount", True),
    ("v1", "persistentvolumeclaims"): ("PersistentVolumeClaim", True),
    ("v1", "persistentvolumes"): ("PersistentVolume", False),
    ("apps/v1", "deployments"): ("Deployment", True),
    ("apps/v1", "daemonsets"): ("DaemonSet", True),
    ("apps/v1", "statefulsets"): ("StatefulSet", True),
    ("apps/v1", "replicasets"): ("ReplicaSet", True),
    ("batch/v1", "jobs"): ("Job", True),
    ("networking.k8s.io/v1", "ingresses"): ("Ingress", True),
    ("networking.k8s.io/v1", "ingressclasses"): ("IngressClass", False),
    ("storage.k8s.io/v1", "storageclasses"): ("StorageClass", False),
    ("rbac.authorization.k8s.io/v1", "roles"): ("Role", True),
    ("rbac.authorization.k8s.io/v1", "rolebindings"): ("RoleBinding", True),
    ("rbac.authorization.k8s.io/v1", "clusterroles"): ("ClusterRole", False),
    ("rbac.authorization.k8s.io/v1", "clusterrolebindings"): ("ClusterRoleBinding", False),
    ("admissionregistration.k8s.io/v1", "validatingwebhookconfigurations"): (
        "ValidatingWebhookConfiguration",
        False,
    ),
    ("authorization.k8s.io/v1", "selfsubjectaccessreviews"): ("SelfSubjectAccessReview", False),
    ("authorization.k8s.io/v1", "selfsubjectrulesreviews"): ("SelfSubjectRulesReview", False),
}
KIND_TO_RESOURCE: dict[str, tuple[str, str, bool]] = {
    kind: (gv, plural, namespaced) for (gv, plural), (kind, namespaced) in RESOURCES.items()
}

# What the real server answers on /version (shape: k8s.io/apimachinery/pkg/version/types.go).
DEFAULT_VERSION = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.0",
    "gitCommit": "9edcffcde5595e8a5b1a35f88c421764e575afce",
    "gitTreeState": "clean",
    "buildDate": "2024-08-13T07:28:49Z",
    "goVersion": "go1.22.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}

Key = tuple[str, str, str, str]  # (group/version, plural, namespace, name)


def load_object(name: str) -> dict[str, Any]:
    """A recorded API object from tests/fakes/k8s/ (a fresh copy each call)."""
    data: dict[str, Any] = json.loads((RECORDED / name).read_text())
    return data


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def json_patch(target: Any, ops: list[dict[str, Any]]) -> Any:
    """RFC 6902 JSON patch (add, remove, replace, test)."""
    doc = copy.deepcopy(target)
    for op in ops:
        parts = _pointer(op["path"])
        parent: Any = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1] if parts else ""
        kind = op["op"]
        if kind == "test":
            current = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if current != op.get("value"):
                raise ValueError(f"test failed at {op['path']}")
        elif kind == "remove":
            if isinstance(parent, list):
                parent.pop(int(last))
            else:
                del parent[last]
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                if last == "-":
                    parent.append(op["value"])
                elif kind == "add":
                    parent.insert(int(last), op["value"])
                else:
                    parent[int(last)] = op["value"]
            else:
                parent[last] = op["value"]
        else:
            raise ValueError(f"unsupported JSON patch op {kind!r}")
    return doc


def _selector_matches(selector: str, labels: dict[str, str]) -> bool:
    """Label selector syntax of k8s.io/apimachinery/pkg/labels/selector.go:
    `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x,y)`."""
    terms = re.findall(r"[^,(]+(?:\([^)]*\))?", selector)
    for raw in terms:
        term = raw.strip()
        if not term:
            continue
        m = re.fullmatch(r"(\S+)\s+(in|notin)\s+\(([^)]*)\)", term)
        if m:
            values = {v.strip() for v in m.group(3).split(",")}
            present = m.group(1) in labels and labels[m.group(1)] in values
            if present != (m.group(2) == "in"):
                return False
            continue
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = re.split(r"==?", term, maxsplit=1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def _field_value(obj: dict[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return "" if node is None else str(node)


def _fields_match(selector: str, obj: dict[str, Any]) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if _field_value(obj, key) == value:
                return False
        else:
            key, value = re.split(r"==?", term, maxsplit=1)
            if _field_value(obj, key) != value:
                return False
    return True


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


class KubeAPIServer:
    """A stateful Kubernetes API on 127.0.0.1; see the module docstring."""

    def __init__(self, version: dict[str, str] | None = None, *, controllers: bool = False) -> None:
        self.version = dict(version or DEFAULT_VERSION)
        self.controllers = controllers
        self.store: dict[Key, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.logs: dict[tuple[str, str], str] = {}
        # SelfSubjectAccessReview: resourceAttributes -> allowed?
        self.access: Callable[[dict[str, Any]], bool] = lambda attrs: True
        self.rules: list[dict[str, Any]] = [
            {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
            {"verbs": ["*"], "nonResourceURLs": ["*"]},
        ]
        # Called (method, path) before every request; may raise ApiError to inject faults.
        self.before: Callable[[str, str], None] | None = None
        # the nodes' kubelets, for the pods of DaemonSets (tests/fakes/kubelet.py)
        self.kubelets: Any = None
        self._lock = threading.RLock()
        self._rv = 1000
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> KubeAPIServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> KubeAPIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test-side access --------------------------------------------------------
    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Store (or overwrite) an object as the API server would hold it."""
        kind = obj["kind"]
        if kind not in KIND_TO_RESOURCE:
            raise KeyError(f"kind {kind} is not served by the fake API")
        gv, plural, namespaced = KIND_TO_RESOURCE[kind]
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        ns = meta.setdefault("namespace", "default") if namespaced else ""
        with self._lock:
            self._stamp(obj)
            self.store[(gv, plural, ns, meta["name"])] = obj
        return copy.deepcopy(obj)

    def _sync(self) -> None:
        if self.kubelets is not None:
            self.kubelets.sync(self.store)

    def objects(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        gv, plural, _ = KIND_TO_RESOURCE[kind]
        with self._lock:
            self._sync()
            return [
                copy.deepcopy(o)
                for (g, p, ns, _n), o in sorted(self.store.items())
                if g == gv and p == plural and (namespace is None or ns == namespace)
            ]

    def get(self, kind: str, name: str, namespace: str = "") -> dict[str, Any] | None:
        gv, plural, namespaced = KIND_TO_RESOURCE[kind]
        ns = (namespace or "default") if namespaced else ""
        with self._lock:
            obj = self.store.get((gv, plural, ns, name))
            return copy.deepcopy(obj) if obj else None

    def remove(self, kind: str, name: str, namespace: str = "") -> None:
        gv, plural, namespaced = KIND_TO_RESOURCE[kind]
        ns = (namespace or "default") if namespaced else ""
        with self._lock:
            self.store.pop((gv, plural, ns, name), None)

    def write_kubeconfig(
        self, path: str | Path, context: str = "fake", *, merge: bool = True
    ) -> Path:
        """Write (or merge into) a kubeconfig whose `context` points at this server."""
        path = Path(path)
        config: dict[str, Any] = {}
        if merge and path.exists():
            config = yaml.safe_load(path.read_text()) or {}
        config.setdefault("apiVersion", "v1")
        config.setdefault("kind", "Config")
        config.setdefault("preferences", {})
        for section, entry in (
            ("clusters", {"name": context, "cluster": {"server": self.url}}),
            ("users", {"name": context, "user": {"token": "fake-token"}}),
            (
                "contexts",
                {
                    "name": context,
                    "context": {"cluster": context, "user": context, "namespace": "default"},
                },
            ),
        ):
            items = [i for i in config.get(section) or [] if i.get("name") != context]
            config[section] = [*items, entry]
        config["current-context"] = context
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        path.chmod(0o600)
        return path

    # -- request handling -------------------------------------------------------
    def _create(self, key: Key, body: dict[str, Any], kind: str, gv: str) -> tuple[int, Any]:
        """Store a new object as the API server does: typed, stamped, and
        (with `controllers`) brought to what its controller would make of it."""
        body.setdefault("kind", kind)
        body.setdefault("apiVersion", gv)
        if kind == "Service":
            self._allocate_cluster_ip(body)
        self._stamp(body)
        if self.controllers:
            self._simulate_controller(body)
        self.store[key] = body
        return 201, copy.deepcopy(body)

    def _stamp(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        self._rv += 1
        meta["resourceVersion"] = str(self._rv)
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", _now())
        meta.setdefault("generation", 1)

    def _allocate_cluster_ip(self, service: dict[str, Any]) -> None:
        """The API server gives every Service but ExternalName a ClusterIP
        from the service CIDR (10.96.0.0/12 by default in kubeadm, kind and
        minikube)."""
        spec = service.setdefault("spec", {})
        if spec.get("type") == "ExternalName" or spec.get("clusterIP"):
            return
        taken = {
            str((o.get("spec") or {}).get("clusterIP"))
            for k, o in self.store.items()
            if k[1] == "services"
        }
        n = 10
        while f"10.96.{n // 256}.{n % 256}" in taken:
            n += 1
        spec["clusterIP"] = f"10.96.{n // 256}.{n % 256}"
        spec["clusterIPs"] = [spec["clusterIP"]]

    def handle(
        self, method: str, raw_path: str, body: Any, content_type: str, accept: str = ""
    ) -> tuple[int, Any]:
        url = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path.rstrip("/")
        self.requests.append((method, raw_path))
        if self.before is not None:
            self.before(method, path)
        if path == "/version":
            return 200, self.version
        if path in ("/healthz", "/readyz", "/livez"):
            return 200, "ok"
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"]}
        if path == "/apis":
            groups = sorted({gv.split("/")[0] for gv, _ in RESOURCES if "/" in gv})
            return 200, {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": g,
                        "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
                        "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"},
                    }
                    for g in groups
                ],
            }
        discovery = self._discovery(path)
        if discovery is not None:
            return 200, discovery
        gv, plural, ns, name, sub = self._parse(path)
        with self._lock:
            self._sync()
            return self._dispatch(
                method, gv, plural, ns, name, sub, query, body, content_type, accept
            )

    def _discovery(self, path: str) -> dict[str, Any] | None:
        """APIResourceList for /api/v1 and /apis/{group}/{version} (what the
        dynamic client reads to map a kind to its REST path)."""
        if path == "/api/v1":
            gv = "v1"
        elif re.fullmatch(r"/apis/[^/]+/[^/]+", path):
            gv = path.removeprefix("/apis/")
        else:
            return None
        resources = [
            {
                "name": plural,
                "singularName": kind.lower(),
                "namespaced": namespaced,
                "kind": kind,
                "verbs": ["create", "delete", "get", "list", "patch", "update"],
            }
            for (g, plural), (kind, namespaced) in RESOURCES.items()
            if g == gv
        ]
        if not resources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": gv,
            "resources": resources,
        }

    def _simulate_controller(self, obj: dict[str, Any]) -> None:
        kind = obj.get("kind")
        spec = obj.get("spec") or {}
        generation = obj["metadata"].get("generation", 1)
        if kind in ("Deployment", "StatefulSet"):
            n = int(spec.get("replicas", 1))
            obj["status"] = {
                "observedGeneration": generation,
                "replicas": n,
                "readyReplicas": n,
                "availableReplicas": n,
                "updatedReplicas": n,
            }
            if kind == "StatefulSet":
                obj["status"]["currentReplicas"] = n
        elif kind == "DaemonSet":
            n = len(self.objects("Node")) or 1
            obj["status"] = {
                "observedGeneration": generation,
                "currentNumberScheduled": n,
                "desiredNumberScheduled": n,
                "numberMisscheduled": 0,
                "numberReady": n,
                "numberAvailable": n,
                "updatedNumberScheduled": n,
            }

    def _parse(self, path: str) -> tuple[str, str, str, str, str]:
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "v1"]:
            gv, rest = "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            gv, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        ns = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        if not rest:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if (gv, plural) not in RESOURCES:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        return gv, plural, ns, name, sub

    def _not_found(self, plural: str, name: str) -> ApiError:
        group = ""
        return ApiError(
            404,
            "NotFound",
            f'{plural} "{name}" not found',
            {"name": name, "group": group, "kind": plural},
        )

    def _dispatch(
        self,
        method: str,
        gv: str,
        plural: str,
        ns: str,
        name: str,
        sub: str,
        query: dict[str, str],
        body: Any,
        content_type: str,
        accept: str = "",
    ) -> tuple[int, Any]:
        kind, namespaced = RESOURCES[(gv, plural)]
        key_ns = ns if namespaced else ""
        if method == "POST" and kind == "SelfSubjectAccessReview":
            attrs = (body.get("spec") or {}).get("resourceAttributes") or {}
            answer = copy.deepcopy(body)
            answer["status"] = {"allowed": bool(self.access(attrs))}
            if not answer["status"]["allowed"]:
                answer["status"]["reason"] = "forbidden by the fake API's access rule"
            return 201, answer
        if method == "POST" and kind == "SelfSubjectRulesReview":
            answer = copy.deepcopy(body)
            answer["status"] = {
                "resourceRules": [r for r in self.rules if "resources" in r],
                "nonResourceRules": [r for r in self.rules if "nonResourceURLs" in r],
                "incomplete": False,
            }
            return 201, answer
        if sub == "log" and method == "GET":
            if (gv, plural, key_ns, name) not in self.store:
                raise self._not_found(plural, name)
            return 200, self.logs.get((key_ns, name), "")

        if method == "GET" and not name:
            items = [
                copy.deepcopy(o)
                for (g, p, n, _), o in sorted(self.store.items())
                if g == gv and p == plural and (not ns or n == ns)
            ]
            if "labelSelector" in query:
                items = [
                    o
                    for o in items
                    if _selector_matches(query["labelSelector"], o["metadata"].get("labels") or {})
                ]
            if "fieldSelector" in query:
                items = [o for o in items if _fields_match(query["fieldSelector"], o)]
            if "as=PartialObjectMetadataList" in accept:
                # the metadata of each object only (the API server's
                # `Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1`)
                return 200, {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": {"resourceVersion": str(self._rv)},
                    "items": [
                        {
                            "kind": "PartialObjectMetadata",
                            "apiVersion": "meta.k8s.io/v1",
                            "metadata": o["metadata"],
                        }
                        for o in items
                    ],
                }
            return 200, {
                "kind": f"{kind}List",
                "apiVersion": gv,
                "metadata": {"resourceVersion": str(self._rv)},
                "items": items,
            }
        key = (gv, plural, key_ns, name)
        if method == "GET":
            if key not in self.store:
                raise self._not_found(plural, name)
            return 200, copy.deepcopy(self.store[key])
        if method == "POST":
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "body must be a JSON object", {})
            meta = body.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            if not meta.get("name"):
                raise ApiError(
                    422, "Invalid", f"{kind} is invalid: metadata.name: Required value", {}
                )
            if namespaced:
                meta["namespace"] = ns or meta.get("namespace") or "default"
            key = (gv, plural, meta["namespace"] if namespaced else "", meta["name"])
            if key in self.store:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{plural} "{meta["name"]}" already exists',
                    {"name": meta["name"], "kind": plural},
                )
            return self._create(key, body, kind, gv)
        if method == "PATCH" and "apply-patch" in content_type and key not in self.store:
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "body must be a JSON object", {})
            body.setdefault("metadata", {})["name"] = name
            if namespaced:
                body["metadata"]["namespace"] = ns or "default"
            return self._create(key, body, kind, gv)
        if key not in self.store:
            raise self._not_found(plural, name)
        current = self.store[key]
        if method == "PUT":
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "body must be a JSON object", {})
            updated = copy.deepcopy(body)
            updated.setdefault("metadata", {})
            for keep in ("uid", "creationTimestamp", "namespace"):
                if keep in current["metadata"]:
                    updated["metadata"][keep] = current["metadata"][keep]
            if kind == "Service":  # spec.clusterIP is immutable: a replace keeps it
                for keep in ("clusterIP", "clusterIPs"):
                    if keep in (current.get("spec") or {}):
                        updated.setdefault("spec", {})[keep] = current["spec"][keep]
        elif method == "PATCH":
            try:
                if "json-patch" in content_type or isinstance(body, list):
                    updated = json_patch(current, body)
                else:
                    updated = merge_patch(current, body)
            except (KeyError, IndexError, ValueError) as exc:
                raise ApiError(422, "Invalid", f"patch failed: {exc}", {}) from None
        elif method == "DELETE":
            del self.store[key]
            if kind == "Namespace":
                for other in [k for k in self.store if k[2] == name]:
                    del self.store[other]
            return 200, copy.deepcopy(current)
        else:
            raise ApiError(405, "MethodNotAllowed", f"method {method} not allowed", {})
        if updated.get("spec") != current.get("spec"):
            updated["metadata"]["generation"] = int(current["metadata"].get("generation", 1)) + 1
        self._stamp(updated)
        if self.controllers:
            self._simulate_controller(updated)
        self.store[key] = updated
        return 200, copy.deepcopy(updated)


def _handler_for(api: KubeAPIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            content_type = self.headers.get("Content-Type") or ""
            try:
                body = json.loads(raw) if raw else None
                if body is None and raw and "yaml" in content_type:
                    body = yaml.safe_load(raw)
                accept = self.headers.get("Accept") or ""
                code, payload = api.handle(method, self.path, body, content_type, accept)
            except ApiError as exc:
                code, payload = exc.code, exc.status()
            except json.JSONDecodeError as exc:
                code, payload = 400, ApiError(400, "BadRequest", str(exc), {}).status()
            if isinstance(payload, str):
                data = payload.encode()
                ctype = "text/plain"
            else:
                data = json.dumps(payload).encode()
                ctype = "application/json"
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

    return Handler


def iter_recorded() -> Iterator[Path]:
    return iter(sorted(RECORDED.glob("*.json")))
