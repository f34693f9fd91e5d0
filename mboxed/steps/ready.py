"""Step `ready`: every workload of the ScienceBox release Ready, or an
explanation of what is stuck and why.

The release's workloads are the Deployments, StatefulSets, DaemonSets, Jobs
and bare Pods that Helm annotated with `meta.helm.sh/release-name` /
`release-namespace` (helm/helm pkg/action/validate.go, setMetadataVisitor);
their pods are found through ownerReferences (Pod -> ReplicaSet ->
Deployment). Everything is read through mboxed.kube.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mboxed import kube
from mboxed.contract import Action, BaseStep, Context, Plan
from mboxed.errors import Deferred, MboxedError
from mboxed.readiness import workload_readiness
from mboxed.sciencebox.diagnose import Diagnosis, diagnose_pod, pod_ready

RELEASE_NAME = "meta.helm.sh/release-name"
RELEASE_NAMESPACE = "meta.helm.sh/release-namespace"
UNIT_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "Pod")


@dataclass(frozen=True)
class Unit:
    kind: str
    name: str
    ready: bool
    detail: str
    failed: bool = False  # will never be ready by waiting (a Job that gave up)

    @property
    def label(self) -> str:
        return f"{self.kind.lower()}/{self.name}"


@dataclass(frozen=True)
class ReadyFacts:
    units: tuple[Unit, ...]
    pods: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    @property
    def ready(self) -> int:
        return sum(u.ready for u in self.units)

    @property
    def waiting(self) -> list[Unit]:
        return [u for u in self.units if not u.ready]

    def counter(self) -> str:
        return f"{self.ready}/{len(self.units)} ready"


def unit_state(obj: Mapping[str, Any]) -> Unit:
    """A workload's readiness, as `kubectl rollout status` judges it (via
    mboxed.readiness); Jobs when they completed; a DaemonSet no node has to run is
    not waited for."""
    kind = str(obj.get("kind"))
    meta = obj.get("metadata") or {}
    name = str(meta.get("name", "?"))
    status = obj.get("status") or {}
    if kind == "Pod":
        return Unit(kind, name, pod_ready(obj), str(status.get("phase", "Pending")))
    if kind == "Job":
        want = int((obj.get("spec") or {}).get("completions") or 1)
        done = int(status.get("succeeded") or 0)
        # batch/v1 JobStatus.conditions: type Failed, status "True" once the
        # Job controller gave up (reason BackoffLimitExceeded, DeadlineExceeded)
        for cond in status.get("conditions") or []:
            if cond.get("type") == "Failed" and cond.get("status") == "True":
                why = ": ".join(str(v) for v in (cond.get("reason"), cond.get("message")) if v)
                return Unit(kind, name, False, f"failed: {why or 'no reason given'}", True)
        return Unit(kind, name, done >= want, f"{done}/{want} completed")
    if kind == "DaemonSet" and int(status.get("desiredNumberScheduled", -1)) == 0:
        observed = int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0)
        return Unit(kind, name, observed, "no node selected to run it")
    state = workload_readiness(obj)
    return Unit(kind, name, state.ready, state.detail)


def belongs(obj: Mapping[str, Any], release: str, namespace: str) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return bool(
        annotations.get(RELEASE_NAME) == release
        and annotations.get(RELEASE_NAMESPACE, namespace) == namespace
    )


def release_view(
    objects: Mapping[str, Sequence[Mapping[str, Any]]], release: str, namespace: str
) -> ReadyFacts:
    """Pure: from listed objects by kind (incl. ReplicaSet) to the release's
    units and pods."""
    units: list[Unit] = []
    owner_uids: set[str] = set()
    for kind in UNIT_KINDS:
        for obj in objects.get(kind, []):
            if not belongs(obj, release, namespace):
                continue
            if kind == "Pod" and (obj.get("metadata") or {}).get("ownerReferences"):
                continue  # a controller's pod: its controller is the unit
            units.append(unit_state(obj))
            owner_uids.add(str((obj.get("metadata") or {}).get("uid")))
    # ReplicaSets of the release's Deployments own the Deployments' pods
    for rs in objects.get("ReplicaSet", []):
        meta = rs.get("metadata") or {}
        if any(ref.get("uid") in owner_uids for ref in meta.get("ownerReferences") or []):
            owner_uids.add(str(meta.get("uid")))
    pods = []
    for pod in objects.get("Pod", []):
        meta = pod.get("metadata") or {}
        refs = meta.get("ownerReferences") or []
        if str(meta.get("uid")) in owner_uids or any(r.get("uid") in owner_uids for r in refs):
            pods.append(dict(pod))
    units.sort(key=lambda u: (u.kind, u.name))
    return ReadyFacts(tuple(units), tuple(pods))


def plan_ready(facts: ReadyFacts, release: str) -> Plan:
    if not facts.units:
        return Plan([Action(f"wait for the workloads of release {release} to appear", kind="wait")])
    if not facts.waiting:
        return Plan.nothing(f"all {len(facts.units)} workloads of release {release} are ready")
    names = ", ".join(u.label for u in facts.waiting[:5])
    more = f" and {len(facts.waiting) - 5} more" if len(facts.waiting) > 5 else ""
    return Plan(
        [
            Action(
                f"wait for {len(facts.waiting)} of {len(facts.units)} workloads ({names}{more})",
                kind="wait",
            )
        ]
    )


# --- reading the cluster ---------------------------------------------------------------

LISTED_KINDS = (*UNIT_KINDS, "ReplicaSet")


def list_objects(client: Any, namespace: str) -> dict[str, list[dict[str, Any]]]:
    return {kind: kube.list_objects(client, kind, namespace) for kind in LISTED_KINDS}


def last_log_lines(client: Any, namespace: str, pod: str, container: str, lines: int) -> str:
    """The previous (crashed) instance's last lines, else the current one's."""
    for previous in (True, False):
        try:
            text = kube.pod_log(
                client, namespace, pod, container, tail_lines=lines, previous=previous
            )
        except MboxedError:  # logs are a nicety: never fail the diagnosis over them
            continue
        if text:
            return text
    return ""


# the engine's background task of the `images` step (mboxed.steps.images.TASK)
IMAGES_TASK = "images"


class ReadyStep(BaseStep):
    name = "ready"
    description = "every ScienceBox workload ready; what is stuck explained"

    def __init__(
        self, interval: float = 5.0, log_lines: int = 10, timeout: float | None = None
    ) -> None:
        self.interval = interval
        self.log_lines = log_lines
        self.timeout = timeout  # None: the profile's sciencebox.ready_timeout

    def _client(self, ctx: Context) -> Any:
        cluster = ctx.outputs("cluster")
        if not cluster:
            raise Deferred("cluster")
        if not ctx.outputs("sciencebox"):
            raise Deferred("sciencebox")
        return kube.api_client(cluster.get("context"), cluster.get("kubeconfig"))

    def _read(self, ctx: Context, client: Any) -> ReadyFacts:
        sb = ctx.profile.sciencebox
        return release_view(list_objects(client, sb.namespace), sb.release, sb.namespace)

    def inputs(self, ctx: Context) -> Mapping[str, Any]:
        return {"release": ctx.profile.sciencebox.release}

    def facts(self, ctx: Context) -> ReadyFacts:
        return self._read(ctx, self._client(ctx))

    def plan(self, ctx: Context, facts: ReadyFacts) -> Plan:
        plan = plan_ready(facts, ctx.profile.sciencebox.release)
        pulling = ctx.tasks.running(IMAGES_TASK) if ctx.tasks is not None else None
        if pulling is not None:
            wait = Action(f"wait for the image pulls ({pulling.summary()})", kind="wait")
            return Plan([*plan.actions, wait])
        return plan

    def apply(self, ctx: Context, plan: Plan) -> Mapping[str, Any] | None:
        client = self._client(ctx)
        timeout = float(
            self.timeout if self.timeout is not None else ctx.profile.sciencebox.ready_timeout
        )
        deadline = time.monotonic() + timeout
        shown = ""
        while True:
            facts = self._read(ctx, client)
            line = facts.counter() if facts.units else "waiting for workloads to appear"
            # A pod waiting for its image says ContainerCreating; the pull
            # under way says what is really happening.
            pulling = ctx.tasks.running(IMAGES_TASK) if ctx.tasks is not None else None
            if pulling is not None:
                line = f"{pulling.summary()}; {line}"
            if line != shown:
                ctx.progress(line)
                shown = line
            if pulling is None and ctx.tasks is not None:
                ctx.tasks.wait(IMAGES_TASK, ctx.progress)  # finished: raises if a pull failed
            if facts.units and not facts.waiting and pulling is None:
                return {"workloads": len(facts.units)}
            if any(u.failed for u in facts.units):
                raise self._failed(ctx, client, facts)
            if time.monotonic() >= deadline:
                raise self._timeout(ctx, client, facts, timeout)
            time.sleep(self.interval)

    def outputs(self, ctx: Context, facts: ReadyFacts) -> Mapping[str, Any]:
        return {"workloads": len(facts.units), "ready": facts.ready}

    # -- the explanation ------------------------------------------------------------
    def diagnoses(self, ctx: Context, client: Any, facts: ReadyFacts) -> list[Diagnosis]:
        provider = ctx.profile.provider
        found = []
        for pod in facts.pods:
            diagnosis = diagnose_pod(pod, memory=provider.memory, cpus=provider.cpus)
            if diagnosis is None:
                continue
            if diagnosis.reason in ("CrashLoopBackOff", "NotReady") and diagnosis.container:
                logs = last_log_lines(
                    client,
                    ctx.profile.sciencebox.namespace,
                    diagnosis.pod,
                    diagnosis.container,
                    self.log_lines,
                )
                diagnosis = diagnosis.with_logs(logs)
            found.append(diagnosis)
        return found

    def _failed(self, ctx: Context, client: Any, facts: ReadyFacts) -> MboxedError:
        """A Job gave up: waiting longer cannot help, so say so now."""
        failed = [u for u in facts.units if u.failed]
        lines = [f"ScienceBox is not ready: {', '.join(f'{u.label} {u.detail}' for u in failed)}"]
        diagnoses = self.diagnoses(ctx, client, facts)
        if diagnoses:
            lines.append("stuck pods:")
            lines += ["  " + d.render(self.log_lines).replace("\n", "\n  ") for d in diagnoses]
        cluster = ctx.outputs("cluster")
        where = f" --context {cluster['context']}" if cluster.get("context") else ""
        names = " ".join(f"job/{u.name}" for u in failed)
        return MboxedError(
            "\n".join(lines),
            hint=f"its log says why: `kubectl{where} logs {names}`; waiting cannot help: fix "
            "the cause (for the LDAP seeding job: the LDAP server), then `mboxed up` again, "
            "which deletes a failed seeding job and has the upgrade create it again",
        )

    def _timeout(self, ctx: Context, client: Any, facts: ReadyFacts, timeout: float) -> MboxedError:
        diagnoses = self.diagnoses(ctx, client, facts)
        lines = [
            f"ScienceBox is not ready after {timeout:g}s: {facts.counter()}",
            "waiting for: " + ", ".join(f"{u.label} ({u.detail})" for u in facts.waiting),
        ]
        if diagnoses:
            lines.append("stuck pods:")
            lines += ["  " + d.render(self.log_lines).replace("\n", "\n  ") for d in diagnoses]
        hints = [d.hint for d in diagnoses if d.hint]
        hint = hints[0] if len(set(hints)) == 1 else "see each pod's hint above"
        if not diagnoses:
            hint = "the workloads have no pods yet; see `kubectl get events`"
        return MboxedError(
            "\n".join(lines),
            hint=f"{hint}; then run `mboxed up` again (or raise sciencebox.ready_timeout)",
        )


def make() -> ReadyStep:
    return ReadyStep()
