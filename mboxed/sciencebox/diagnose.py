"""Why is a pod not ready? Pure functions from Pod JSON (the Kubernetes API's
v1 Pod, as `kubectl get pod -o json` prints it) to a diagnosis a user can act
on; and readiness of apps/v1 workloads from their status.

Field meanings: Kubernetes API reference, Pod v1 PodStatus / ContainerStatus /
ContainerStateWaiting; the waiting reasons come from the kubelet
(pkg/kubelet/images/types.go: ErrImagePull, ImagePullBackOff, InvalidImageName,
ErrImageNeverPull; pkg/kubelet/kuberuntime: CrashLoopBackOff,
CreateContainerConfigError) and the scheduler's PodScheduled=False message
("0/1 nodes are available: 1 Insufficient memory. ...",
pkg/scheduler/schedule_one.go).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

IMAGE_PULL = {"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"}
CONFIG_ERRORS = {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}


@dataclass(frozen=True)
class Diagnosis:
    pod: str
    reason: str  # short: ImagePullBackOff, CrashLoopBackOff, Pending, NotReady, ...
    detail: str  # one line: what kubernetes says
    hint: str = ""
    container: str = ""  # for CrashLoopBackOff: whose logs to show
    logs: str = ""  # last log lines, filled in by the caller

    def with_logs(self, logs: str) -> Diagnosis:
        return Diagnosis(self.pod, self.reason, self.detail, self.hint, self.container, logs)

    def render(self, log_lines: int = 10) -> str:
        lines = [f"{self.pod}: {self.reason}: {self.detail}"]
        if self.logs.strip():
            tail = self.logs.rstrip("\n").splitlines()[-log_lines:]
            lines.append(f"  last log lines of {self.container}:")
            lines += [f"    {line}" for line in tail]
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


def _name(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return str(meta.get("name", "?"))


def _condition(pod: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def pod_ready(pod: Mapping[str, Any]) -> bool:
    """Ready, or finished successfully (a Job's pod)."""
    status = pod.get("status") or {}
    if status.get("phase") == "Succeeded":
        return True
    cond = _condition(pod, "Ready")
    return bool(cond and cond.get("status") == "True")


def scheduler_hint(message: str, memory: str = "", cpus: int | None = None) -> str:
    """What to change for the scheduler's 'x/y nodes are available: ...'."""
    hints = []
    if re.search(r"Insufficient memory", message):
        now = f" (now {memory})" if memory else ""
        hints.append(
            f"not enough memory on the node: raise provider.memory{now}, e.g. "
            "--set provider.memory=12g, or turn a component off "
            "(sciencebox.components.swan=false)"
        )
    if re.search(r"Insufficient cpu", message):
        now = f" (now {cpus})" if cpus else ""
        hints.append(f"not enough CPU on the node: raise provider.cpus{now}")
    if re.search(r"Insufficient ephemeral-storage|disk pressure", message, re.I):
        hints.append("not enough disk on the node: raise provider.disk or free space")
    if "unbound immediate PersistentVolumeClaims" in message:
        hints.append(
            "a PersistentVolumeClaim is not bound: the cluster needs a default StorageClass "
            "(minikube: `minikube addons enable storage-provisioner`)"
        )
    if "node(s) had untolerated taint" in message or "had taint" in message:
        hints.append(
            "the node is tainted (not ready, or control-plane only): see kubectl describe node"
        )
    if "didn't match Pod's node affinity/selector" in message:
        hints.append("no node carries the labels this pod selects (nodeSelector/affinity)")
    return "; ".join(hints)


def _container_statuses(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    status = pod.get("status") or {}
    return [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]


def _spec_image(pod: Mapping[str, Any], container: str) -> str:
    spec = pod.get("spec") or {}
    for item in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if item.get("name") == container:
            return str(item.get("image", ""))
    return ""


def diagnose_pod(
    pod: Mapping[str, Any], *, memory: str = "", cpus: int | None = None
) -> Diagnosis | None:
    """None when the pod is fine (ready or completed); otherwise why not."""
    if pod_ready(pod):
        return None
    name = _name(pod)
    status = pod.get("status") or {}
    phase = str(status.get("phase") or "Unknown")

    scheduled = _condition(pod, "PodScheduled")
    if scheduled is not None and scheduled.get("status") == "False":
        message = str(scheduled.get("message") or scheduled.get("reason") or "not scheduled")
        return Diagnosis(
            name,
            "Pending",
            f"not scheduled: {message}",
            scheduler_hint(message, memory, cpus),
        )

    for cs in _container_statuses(pod):
        container = str(cs.get("name", ""))
        state = cs.get("state") or {}
        waiting = state.get("waiting") or {}
        reason = str(waiting.get("reason") or "")
        message = str(waiting.get("message") or "")
        if reason in IMAGE_PULL:
            image = str(cs.get("image") or _spec_image(pod, container))
            return Diagnosis(
                name,
                reason,
                f"cannot pull image {image} for container {container}"
                + (f" ({message})" if message and image not in message else ""),
                f"check that {image} exists and that the node can reach its registry "
                "(behind a proxy or offline? pre-pull it, or set a mirror in sciencebox.values)",
                container,
            )
        if reason == "CrashLoopBackOff":
            last = (cs.get("lastState") or {}).get("terminated") or {}
            code = last.get("exitCode")
            why = str(last.get("reason") or "")
            restarts = cs.get("restartCount", 0)
            hint = "its logs above say why; `mboxed logs` has the full run log"
            if why == "OOMKilled":
                hint = f"killed for using too much memory: raise provider.memory{_now(memory)}"
            return Diagnosis(
                name,
                "CrashLoopBackOff",
                f"container {container} keeps crashing (restarted {restarts} times, "
                f"last exit code {code}{', ' + why if why else ''})",
                hint,
                container,
            )
        if reason in CONFIG_ERRORS:
            return Diagnosis(
                name,
                reason,
                f"container {container}: {message or reason}",
                "a Secret or ConfigMap it needs may be missing; re-run `mboxed up`",
                container,
            )
        terminated = state.get("terminated") or {}
        if terminated.get("reason") == "OOMKilled":
            return Diagnosis(
                name,
                "OOMKilled",
                f"container {container} was killed for using too much memory",
                f"raise provider.memory{_now(memory)}",
                container,
            )
        if reason and reason not in ("ContainerCreating", "PodInitializing"):
            return Diagnosis(name, reason, f"container {container}: {message or reason}")

    waiting_on = [
        str(cs.get("name"))
        for cs in _container_statuses(pod)
        if (cs.get("state") or {}).get("waiting")
    ]
    if phase == "Pending":
        what = f" ({', '.join(waiting_on)} still being created)" if waiting_on else ""
        return Diagnosis(
            name,
            "Pending",
            f"scheduled but not started yet{what}",
            "usually images still downloading; a slow link makes this take long",
        )
    if phase == "Failed":
        return Diagnosis(
            name, "Failed", str(status.get("message") or status.get("reason") or "pod failed")
        )
    unready = [str(cs.get("name")) for cs in _container_statuses(pod) if not cs.get("ready")]
    ready_cond = _condition(pod, "Ready") or {}
    return Diagnosis(
        name,
        "NotReady",
        f"{phase}, but not ready"
        + (f": containers {', '.join(unready)} fail their readiness probe" if unready else "")
        + (f" ({ready_cond.get('message')})" if ready_cond.get("message") and not unready else ""),
        "it may still be starting; if it stays so, its logs say why",
        unready[0] if unready else "",
    )


def _now(memory: str) -> str:
    return f" (now {memory})" if memory else ""


def summarise(diagnoses: Sequence[Diagnosis]) -> str:
    return "\n".join(d.render() for d in diagnoses)
