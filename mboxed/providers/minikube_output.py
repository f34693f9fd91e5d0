"""What minikube prints, parsed: -o json events, `status`, `profile list`.

Formats and exit codes from upstream kubernetes/minikube (v1.34.0, the
pinned release):
- `-o json`: every message is a JSON line on stdout, a CloudEvent
  (pkg/minikube/out/register/cloud_events.go, log.go): {"specversion": "1.0",
  "type": "io.k8s.sigs.minikube.step|info|warning|error|download", "data":
  {...}}. An error's data has message, exitcode, name (the reason ID, e.g.
  PROVIDER_DOCKER_NOT_RUNNING), advice, url, issues (out/out_reason.go Error).
- `minikube status -o json`: cmd/minikube/cmd/status.go — one object (a
  list for multi-node clusters) with Name, Host, Kubelet, APIServer,
  Kubeconfig, Worker, written without a newline; the exit code is a bit mask:
  1 host not running, 2 kubelet/apiserver not running, 4 kubeconfig not
  configured. After `minikube pause` the host runs, Kubelet is Stopped and
  APIServer Paused (kverify.APIServerStatus). A host whose driver cannot tell
  its state (e.g. Docker is down) is "Nonexistent" (nodeStatus), the reason
  only on stderr. A profile that does not exist: info lines and exit 85
  (pkg/minikube/mustload Partial, reason.ExGuestNotFound).
- `minikube profile list --light -o json`: cmd/minikube/cmd/config/
  profile_list.go — {"invalid": [...], "valid": [Profile]} without probing
  each machine (Status "Skipped"); Profile = {Name, Status, Config:
  ClusterConfig} (pkg/minikube/config/types.go: Memory and DiskSize in MB,
  CPUs, Driver, KubernetesConfig.KubernetesVersion, Nodes[].IP, Addons,
  ExposedPorts — the --ports of its creation).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mboxed.errors import MboxedError

EXIT_PROFILE_NOT_FOUND = 85  # reason.ExGuestNotFound
HOST_NOT_RUNNING, CLUSTER_NOT_RUNNING, KUBECONFIG_NOT_CONFIGURED = 1, 2, 4
ERROR_EVENT = "io.k8s.sigs.minikube.error"


class MinikubeError(MboxedError):
    """minikube failed and said why (an io.k8s.sigs.minikube.error event)."""


# --- pure parsers ------------------------------------------------------------------


def json_values(text: str) -> list[Any]:
    """Every JSON object or array in `text`, in order: minikube's -o json
    output is JSON lines mixed with whatever else reaches stdout (status
    writes its object without a newline, so one may directly follow it)."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    i = 0
    while True:
        starts = [p for p in (text.find("{", i), text.find("[", i)) if p >= 0]
        if not starts:
            return values
        pos = min(starts)
        try:
            value, end = decoder.raw_decode(text, pos)
        except ValueError:
            i = pos + 1
            continue
        values.append(value)
        i = end


def minikube_error(stdout: str) -> MinikubeError | None:
    """The first error event of -o json output, as the user's message."""
    for value in json_values(stdout):
        if isinstance(value, dict) and value.get("type") == ERROR_EVENT:
            data = value.get("data") or {}
            name = str(data.get("name") or "")
            message = str(data.get("message") or "minikube failed").strip()
            code = data.get("exitcode")
            text = f"minikube: {message}" + (f" ({name}, exit {code})" if name else "")
            hint = str(data.get("advice") or "").strip()
            url = str(data.get("url") or "").strip()
            if url:
                hint = f"{hint} — {url}" if hint else url
            return MinikubeError(text, hint=hint)
    return None


@dataclass(frozen=True)
class MinikubeStatus:
    name: str
    host: str
    kubelet: str
    apiserver: str
    kubeconfig: str
    exit_code: int

    @property
    def running(self) -> bool:
        return self.exit_code & (HOST_NOT_RUNNING | CLUSTER_NOT_RUNNING) == 0 and (
            self.host == "Running"
        )

    @property
    def paused(self) -> bool:
        """`minikube pause` (containers frozen) or a paused node container."""
        return "Paused" in (self.host, self.apiserver)

    @property
    def unknown(self) -> bool:
        """The driver could not tell the host's state (e.g. Docker is down)."""
        return self.host in ("Nonexistent", "Error", "")


def _is_status(value: Any) -> bool:
    return isinstance(value, dict) and "Host" in value and "Name" in value


def parse_status(stdout: str, exit_code: int) -> MinikubeStatus | None:
    """`minikube status -o json` → the control plane's status; None when the
    profile does not exist (or no status object was printed)."""
    if exit_code == EXIT_PROFILE_NOT_FOUND:
        return None
    found = None
    for value in json_values(stdout):
        if _is_status(value):
            found = value
        elif isinstance(value, list) and value and all(_is_status(v) for v in value):
            # multi-node: the control plane is the one that is not Worker
            found = next((d for d in value if not d.get("Worker")), value[0])
    if found is None:
        return None
    return MinikubeStatus(
        name=str(found.get("Name", "")),
        host=str(found.get("Host", "")),
        kubelet=str(found.get("Kubelet", "")),
        apiserver=str(found.get("APIServer", "")),
        kubeconfig=str(found.get("Kubeconfig", "")),
        exit_code=exit_code,
    )


@dataclass(frozen=True)
class MinikubeProfile:
    name: str
    status: str
    driver: str
    cpus: int
    memory_mib: int
    disk_mib: int
    kubernetes_version: str
    ip: str
    addons: dict[str, bool] = field(default_factory=dict)
    exposed_ports: tuple[str, ...] = ()


def parse_profile_list(stdout: str) -> list[MinikubeProfile]:
    """`minikube profile list [--light] -o json` → its valid profiles."""
    body = next((v for v in json_values(stdout) if isinstance(v, dict) and "valid" in v), {})
    out = []
    for raw in body.get("valid") or []:
        cfg = raw.get("Config") or {}
        nodes = cfg.get("Nodes") or []
        control = next((n for n in nodes if n.get("ControlPlane")), nodes[0] if nodes else {})
        out.append(
            MinikubeProfile(
                name=str(raw.get("Name", "")),
                status=str(raw.get("Status", "")),
                driver=str(cfg.get("Driver", "")),
                cpus=int(cfg.get("CPUs", 0)),
                memory_mib=int(cfg.get("Memory", 0)),
                disk_mib=int(cfg.get("DiskSize", 0)),
                kubernetes_version=str(
                    (cfg.get("KubernetesConfig") or {}).get("KubernetesVersion", "")
                ),
                ip=str(control.get("IP", "")),
                addons={k: bool(v) for k, v in (cfg.get("Addons") or {}).items()},
                exposed_ports=tuple(str(p) for p in cfg.get("ExposedPorts") or ()),
            )
        )
    return out


def published_host_ports(exposed: tuple[str, ...]) -> tuple[int, int] | None:
    """ExposedPorts (docker's publish syntax, [ip:]host:container[/proto]) →
    the host ports of the node's 80 and 443, when both are published."""
    found: dict[int, int] = {}
    for spec in exposed:
        parts = spec.split("/", 1)[0].split(":")
        if len(parts) >= 2 and parts[-1].isdigit() and parts[-2].isdigit():
            found[int(parts[-1])] = int(parts[-2])
    return (found[80], found[443]) if 80 in found and 443 in found else None
