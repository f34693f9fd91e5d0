"""What the `minikube`, `kind` and kind-node `docker` stand-ins share
(standard library only: they run as separate programs).

- State: one JSON file per tool under $MBOXED_FAKE_STATE, locked while a
  call reads and writes it; each call's argv is appended to `calls`.
- A "cluster" is a kubeconfig context pointing at the KubeAPIServer the test
  started ($MBOXED_FAKE_KUBE_API), and the objects a fresh cluster has (a
  Ready node, the coredns ConfigMap and Deployment) created through that API.
- Kubeconfig: written where the real tools write it ($KUBECONFIG's first
  file, else ~/.kube/config), as JSON (valid YAML; the stand-ins cannot load
  PyYAML). An existing file that is not JSON is an error, not overwritten.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

RECORDED = Path(__file__).resolve().parent / "k8s"


def state_dir() -> Path:
    raw = os.environ.get("MBOXED_FAKE_STATE")
    if not raw:
        sys.stderr.write("fake: MBOXED_FAKE_STATE is not set\n")
        sys.exit(99)
    path = Path(raw)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def tool_state(
    tool: str, argv: list[str], directory: Path | None = None
) -> Iterator[dict[str, Any]]:
    """Load, lock, yield, save. Records argv first, so failing calls count too.
    `directory`: the state directory (default $MBOXED_FAKE_STATE)."""
    path = (directory or state_dir()) / f"{tool}.json"
    lock = path.with_suffix(".lock")
    with lock.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        data.setdefault("calls", []).append(argv)
        try:
            yield data
        finally:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=1))
            tmp.replace(path)


def kubeconfig_path() -> Path:
    first = next((p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p), "")
    return Path(first) if first else Path.home() / ".kube" / "config"


def _load_kubeconfig(path: Path) -> dict[str, Any]:
    if not path.exists() or not path.read_text().strip():
        return {"apiVersion": "v1", "kind": "Config", "preferences": {}}
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError:
        sys.stderr.write(f"fake: {path} is not JSON; the stand-ins only write JSON kubeconfigs\n")
        sys.exit(98)
    return data


def set_context(name: str, server: str, *, current: bool = True) -> None:
    path = kubeconfig_path()
    config = _load_kubeconfig(path)
    for section, entry in (
        ("clusters", {"name": name, "cluster": {"server": server}}),
        ("users", {"name": name, "user": {"token": f"fake-token-{name}"}}),
        ("contexts", {"name": name, "context": {"cluster": name, "user": name}}),
    ):
        items = [i for i in config.get(section) or [] if i.get("name") != name]
        config[section] = [*items, entry]
    if current:
        config["current-context"] = name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2))


def remove_context(name: str) -> None:
    path = kubeconfig_path()
    if not path.exists():
        return
    config = _load_kubeconfig(path)
    for section in ("clusters", "users", "contexts"):
        config[section] = [i for i in config.get(section) or [] if i.get("name") != name]
    if config.get("current-context") == name:
        config["current-context"] = ""
    path.write_text(json.dumps(config, indent=2))


def api_url() -> str | None:
    return os.environ.get("MBOXED_FAKE_KUBE_API") or None


def recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDED / name).read_text())
    return data


def _path_for(obj: dict[str, Any]) -> str:
    from_kind = {
        "Node": ("/api/v1", "nodes", False),
        "Namespace": ("/api/v1", "namespaces", False),
        "ConfigMap": ("/api/v1", "configmaps", True),
        "Service": ("/api/v1", "services", True),
        "Deployment": ("/apis/apps/v1", "deployments", True),
        "DaemonSet": ("/apis/apps/v1", "daemonsets", True),
        "IngressClass": ("/apis/networking.k8s.io/v1", "ingressclasses", False),
    }
    prefix, plural, namespaced = from_kind[obj["kind"]]
    if namespaced:
        return f"{prefix}/namespaces/{obj['metadata']['namespace']}/{plural}"
    return f"{prefix}/{plural}"


def put_object(obj: dict[str, Any]) -> None:
    """Create the object through the fake API, or replace it when it exists."""
    import urllib.error  # only here: importing it costs a tenth of a second per call
    import urllib.request

    url = api_url()
    if url is None:
        return
    obj = copy.deepcopy(obj)
    for key in ("uid", "resourceVersion", "creationTimestamp"):
        obj["metadata"].pop(key, None)
    collection = url + _path_for(obj)
    body = json.dumps(obj).encode()
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(collection, body, headers, method="POST")
    try:
        urllib.request.urlopen(request, timeout=10).close()
    except urllib.error.HTTPError as exc:
        if exc.code != 409:
            raise
        target = f"{collection}/{obj['metadata']['name']}"
        request = urllib.request.Request(target, body, headers, method="PUT")
        urllib.request.urlopen(request, timeout=10).close()


def delete_object(obj: dict[str, Any]) -> None:
    import urllib.error
    import urllib.request

    url = api_url()
    if url is None:
        return
    target = f"{url}{_path_for(obj)}/{obj['metadata']['name']}"
    with contextlib.suppress(urllib.error.HTTPError):
        urllib.request.urlopen(urllib.request.Request(target, method="DELETE"), timeout=10)


def boot_cluster(
    node_file: str, node_name: str, corefile_file: str, labels: dict[str, str]
) -> None:
    """What a fresh cluster shows through its API: a Ready node and CoreDNS."""
    node = recorded(node_file)
    node["metadata"]["name"] = node_name
    node["metadata"]["labels"]["kubernetes.io/hostname"] = node_name
    node["metadata"]["labels"].update(labels)
    put_object(node)
    put_object(recorded(corefile_file))
    put_object(recorded("deployment-coredns-ready.json"))


def fail(message: str, code: int) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.exit(code)
