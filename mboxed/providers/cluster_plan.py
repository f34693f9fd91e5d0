"""The cluster step's facts and its plan, a pure function of them: create
(after what a create first takes from a room), recreate on a diff, start,
restore the kube context, then what is missing around a running cluster
(nodes Ready, the room's files in the nodes, the ingress, the hostname).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mboxed import hostname as hn
from mboxed.contract import Action, Plan
from mboxed.providers import ClusterProvider, ClusterStatus
from mboxed.providers import room_nodes as rn


@dataclass(frozen=True)
class ClusterFacts:
    provider: str
    name: str
    tool_missing: str | None = None
    status: ClusterStatus | None = None
    diff: list[str] = field(default_factory=list)
    owned: bool = False
    context: str | None = None
    kubeconfig: str | None = None
    nodes_ready: bool | None = None
    nodes_detail: str = ""
    ingress_ready: bool | None = None
    ingress_address: str | None = None
    https_port: int = 443
    hostname: hn.HostnameChoice | None = None
    hosts_ok: bool | None = None
    coredns_ok: bool | None = None  # None: the name needs no CoreDNS entry
    dns_address: str | None = None  # where the CoreDNS entry points pods
    root_problem: str | None = None
    context_missing: bool = False
    room_missing: dict[str, list[str]] = field(default_factory=dict)  # node -> files
    base_image: str | None = None  # what a create first loads from the room (kind, minikube)
    preload: str | None = None  # minikube's preload to take from the room first


# --- plan: a pure function of the facts --------------------------------------------


def plan_cluster(facts: ClusterFacts, provider: ClusterProvider) -> Plan:
    actions: list[Action] = []
    room = rn.room_of(provider)
    after_create = [
        *([Action(rn.room_summary(room), kind="room")] if room else []),
        Action(provider.ingress_summary(), kind="ingress"),
        Action(
            "make the hostname resolve to the ingress (a nip.io name when online; "
            "else /etc/hosts and CoreDNS)",
            kind="hostname",
        ),
    ]
    # what a create takes from the room before it runs: the node image
    # (kind, minikube) and minikube's preload
    wanted_first = (("base-image", facts.base_image), ("preload", facts.preload))
    first = [Action(line, kind=kind) for kind, line in wanted_first if line]
    if facts.tool_missing:
        note = f" (once {facts.tool_missing} is installed)"
        create = Action(provider.create_summary() + note, kind="create")
        return Plan([*first, create, *after_create])
    status = facts.status
    assert status is not None
    if not status.exists:
        detail = {"root": facts.root_problem} if facts.root_problem else {}
        create = Action(provider.create_summary(), kind="create", detail=detail)
        return Plan([*first, create, *after_create])
    if facts.diff:
        who = "created by mboxed" if facts.owned else "NOT created by mboxed"
        actions.append(
            Action(
                f"recreate {provider.name} cluster {facts.name!r} ({who}; differs: "
                + "; ".join(facts.diff)
                + ")",
                kind="recreate",
                detail={"diff": list(facts.diff), "owned": facts.owned},
            )
        )
        return Plan([*actions, *first, *after_create])
    if not status.running:
        verb = "unpause" if status.state == "Paused" else "start"
        actions.append(
            Action(f"{verb} {provider.name} cluster {facts.name!r} ({status.state})", kind="start")
        )
        return Plan([*actions, *after_create])
    if facts.context_missing:
        actions.append(
            Action(
                f"write the kube context {facts.context!r} into {facts.kubeconfig} again",
                kind="context",
            )
        )
        return Plan([*actions, *after_create])
    if not facts.nodes_ready:
        actions.append(Action(f"wait for the nodes to be Ready ({facts.nodes_detail})", "wait"))
    if room and facts.room_missing:
        actions.append(Action(rn.room_summary(room, sorted(facts.room_missing)), kind="room"))
    if not facts.ingress_ready:
        actions.append(Action(provider.ingress_summary(), kind="ingress"))
    choice = facts.hostname
    if choice is not None and facts.ingress_address:
        if choice.hosts_entry and not facts.hosts_ok:
            actions.append(
                Action(
                    f"add '{facts.ingress_address} {choice.fqdn}' to the hosts file",
                    kind="hosts",
                )
            )
        if facts.coredns_ok is False:
            actions.append(
                Action(
                    f"add {choice.fqdn} → {facts.dns_address} to the cluster's CoreDNS",
                    kind="coredns",
                )
            )
    if actions:
        return Plan(actions)
    where = f"https://{choice.fqdn}" if choice else "?"
    if facts.https_port != 443:
        where += f":{facts.https_port}"
    version = status.settings.get("kubernetes_version", "")
    return Plan.nothing(
        f"{provider.name} cluster {facts.name!r} running"
        + (f" (Kubernetes {version})" if version else "")
        + f", ingress ready, {where}"
    )
