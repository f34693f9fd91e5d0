"""Step `cluster`: a running cluster of the profile's size and Kubernetes
version, its nodes and CoreDNS Ready, an ingress controller Ready, and a
public hostname that resolves to the ingress from the host and from pods.

Reconcile, don't clobber: a cluster that exists with other settings is
reported as a diff and recreated only with --force or a yes at the prompt,
and only when mboxed created it (journaled as `cluster_created` right after
creation); `down` deletes only such a cluster.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mboxed import hostname as hn
from mboxed import hostname_setup, kube, readiness
from mboxed.contract import Action, BaseStep, Context, Plan
from mboxed.errors import MboxedError
from mboxed.journal import JournalEntry, revert
from mboxed.providers import ClusterProvider, ClusterSpec, differences
from mboxed.providers import minikube_preload as mp
from mboxed.providers import room_nodes as rn
from mboxed.providers.cluster_plan import ClusterFacts, plan_cluster
from mboxed.providers.service import (
    CREATED,
    journaled_provider,
    make_provider,
    owned_clusters,
)

COREDNS_ENTRY = "coredns_entry"
ROOM_HOSTS = "room_hosts"  # hosts.toml files written into the nodes


def _base_image(provider: ClusterProvider) -> str | None:
    """What creating the cluster loads from the room (kind, minikube)."""
    missing = getattr(provider, "base_image_missing", None)
    return missing() if missing is not None else None


# --- the step -----------------------------------------------------------------------


class ClusterStep(BaseStep):
    name = "cluster"
    description = "a running cluster with an ingress and a resolvable hostname"

    def inputs(self, ctx: Context) -> Mapping[str, Any]:
        return {"provider": ctx.profile.section_hash("provider"), "hostname": ctx.profile.hostname}

    # -- facts -------------------------------------------------------------------
    def facts(self, ctx: Context) -> ClusterFacts:
        provider = make_provider(ctx)
        spec: ClusterSpec = provider.spec
        owned = any(d.get("name") == spec.name for d in owned_clusters(ctx.journal("cluster")))
        missing = provider.tool_missing()
        status = None if missing else provider.status()
        if status is None or not status.exists:
            return ClusterFacts(
                spec.provider,
                spec.name,
                tool_missing=missing,
                status=status,
                owned=owned,
                root_problem=None if missing else provider.root_problem(),
                # only a cluster to create needs them
                base_image=_base_image(provider),
                preload=mp.preload_needed(ctx, provider),
            )
        diff = differences(provider.wanted_settings(), status.settings)
        base = ClusterFacts(
            spec.provider,
            spec.name,
            status=status,
            diff=diff,
            owned=owned,
            # for the cluster that replaces this one
            base_image=_base_image(provider) if diff else None,
            preload=mp.preload_needed(ctx, provider) if diff else None,
        )
        if diff or not status.running:
            return base
        context, kubeconfig = provider.kube_context(), provider.kubeconfig()
        base = dataclasses.replace(base, context=context, kubeconfig=kubeconfig)
        if context not in kube.list_contexts(kubeconfig)[0]:
            return dataclasses.replace(base, context_missing=True)
        client = kube.api_client(context, kubeconfig)
        if spec.provider == "existing":
            self._check_existing(ctx, client, context)
        base = dataclasses.replace(base, room_missing=rn.missing_in(provider))
        nodes = [readiness.node_readiness(n) for n in kube.list_objects(client, "Node")]
        nodes_ready = bool(nodes) and all(n.ready for n in nodes)
        nodes_detail = "; ".join(str(n) for n in nodes) or "no nodes registered"
        ingress_ready = provider.ingress_ready(client)
        address = provider.ingress_address(client) if ingress_ready else None
        choice = hosts_ok = coredns_ok = dns_address = None
        if address:
            choice = self._choose_hostname(ctx, address)
            needs_dns = hn.needs_cluster_dns(choice, address)
            if needs_dns and spec.provider == "existing":
                # A CoreDNS entry would be a cluster-wide change nobody asked for.
                raise hn.existing_dns_refusal(choice, address, context)
            if choice.hosts_entry:
                hosts_ok = hostname_setup.hosts_file_has(
                    Path(ctx.paths.hosts_file), address, choice.fqdn
                )
            if needs_dns:
                dns_address = hn.in_cluster_address(address, client)
                coredns_ok = hostname_setup.coredns_has(client, dns_address, choice.fqdn)
        return dataclasses.replace(
            base,
            nodes_ready=nodes_ready,
            nodes_detail=nodes_detail,
            ingress_ready=ingress_ready,
            ingress_address=address,
            https_port=provider.https_port(),
            hostname=choice,
            hosts_ok=hosts_ok,
            coredns_ok=coredns_ok,
            dns_address=dns_address,
        )

    def _check_existing(self, ctx: Context, client: Any, context: str) -> None:
        from mboxed.providers.existing import required_permissions

        namespace = ctx.profile.sciencebox.namespace
        denied = kube.missing_permissions(client, required_permissions(namespace))
        if denied:
            raise MboxedError(
                f"context {context!r} lacks permissions the ScienceBox install needs: "
                + "; ".join(denied),
                hint="ask the cluster's admin for them, or use a context with more rights",
            )

    def _choose_hostname(self, ctx: Context, address: str) -> hn.HostnameChoice:
        return hostname_setup.keep_or_choose(
            ctx.profile.hostname,
            ctx.outputs("cluster"),
            address,
            ctx.deployment,
            is_offline=hn.offline(ctx.shell.env),
        )

    # -- plan / apply ------------------------------------------------------------
    def plan(self, ctx: Context, facts: ClusterFacts) -> Plan:
        return plan_cluster(facts, make_provider(ctx))

    def apply(self, ctx: Context, plan: Plan) -> Mapping[str, Any] | None:
        provider = make_provider(ctx)
        spec = provider.spec
        kinds = {a.kind for a in plan.actions}
        if "recreate" in kinds:
            self._recreate(ctx, provider, next(a for a in plan.actions if a.kind == "recreate"))
        problem = provider.root_problem()
        if problem:
            ctx.progress(problem)
            agreed = ctx.options.force or ctx.confirm(
                f"{problem}. Pass --force to {provider.name} (the docker daemon then runs the "
                "cluster as root)?"
            )
            provider = make_provider(ctx, allow_root=agreed)

        def journal_ownership() -> None:
            # Journaled before the create command runs: the cluster was absent,
            # so whatever a create leaves behind, even half-made, is mboxed's.
            known = {d.get("name") for d in owned_clusters(ctx.journal("cluster"))}
            if spec.name not in known:
                ctx.record(
                    CREATED, provider=spec.provider, name=spec.name, context=provider.kube_context()
                )

        if "preload" in kinds:
            mp.install_preload(ctx, provider)  # before `minikube start` looks for it
        provider.ensure(ctx.progress, before_create=journal_ownership)
        context, kubeconfig = provider.kube_context(), provider.kubeconfig()
        if context not in kube.list_contexts(kubeconfig)[0]:
            provider.restore_context()
        client = kube.api_client(context, kubeconfig)
        readiness.wait_nodes_ready(client, timeout=600, progress=ctx.progress)
        self._room(ctx, provider)
        if spec.provider != "existing":
            readiness.wait_workload_ready(
                client, "Deployment", "kube-system", "coredns", timeout=300, progress=ctx.progress
            )
        if not provider.ingress_ready(client):
            provider.ensure_ingress(client, ctx.progress)
        address = provider.ingress_address(client)
        choice = self._choose_hostname(ctx, address)
        if choice.hosts_entry:
            hosts = Path(ctx.paths.hosts_file)
            added = hostname_setup.add_hosts_line(hosts, address, choice.fqdn, ctx.shell)
            if added is not None:
                ctx.record("line_added", **added)
        if hn.needs_cluster_dns(choice, address):
            pods_reach = hn.in_cluster_address(address, client)
            if hostname_setup.add_coredns_entry(client, pods_reach, choice.fqdn, context=context):
                ctx.record(
                    COREDNS_ENTRY,
                    ip=pods_reach,
                    fqdn=choice.fqdn,
                    context=context,
                    kubeconfig=kubeconfig,
                )
        return self._outputs(ctx, provider, address, choice)

    def _room(self, ctx: Context, provider: ClusterProvider) -> None:
        """The room's hosts.toml in every node that lacks one (journaled: a
        cluster mboxed did not create gets them removed on `down`)."""
        written, files = rn.install_in(provider)
        if written:
            ctx.progress(rn.room_summary(str(rn.room_of(provider)), written))
            ctx.record(ROOM_HOSTS, nodes=written, files=files)

    def _recreate(self, ctx: Context, provider: ClusterProvider, action: Action) -> None:
        diff = "; ".join(action.detail.get("diff", []))
        name = provider.spec.name
        if not action.detail.get("owned"):
            raise MboxedError(
                f"{provider.name} cluster {name!r} exists with other settings ({diff}), "
                "and mboxed did not create it, so it will not delete it",
                hint=f"delete it yourself ({provider.name} delete ...), use another --name, "
                "or change the profile to match it",
            )
        if not (
            ctx.options.force
            or ctx.confirm(f"Recreate cluster {name!r} ({diff})? Its data is lost.")
        ):
            raise MboxedError(
                f"{provider.name} cluster {name!r} differs from the profile: {diff}",
                hint="run again with --force to recreate it (its data is lost), "
                "or change the profile back",
            )
        provider.delete(ctx.progress)

    def _outputs(
        self, ctx: Context, provider: ClusterProvider, address: str, choice: hn.HostnameChoice
    ) -> dict[str, Any]:
        owned = any(
            d.get("name") == provider.spec.name for d in owned_clusters(ctx.journal("cluster"))
        )
        outputs: dict[str, Any] = {
            "provider": provider.name,
            "cluster_name": provider.spec.name,
            "context": provider.kube_context(),
            "kubeconfig": provider.kubeconfig(),
            "hostname": choice.fqdn,
            "hostname_mode": choice.mode,
            "ingress_address": address,
            "https_port": provider.https_port(),
            "created_by_mboxed": owned,
        }
        if rn.room_of(provider):
            outputs["room"] = rn.room_of(provider)
        if provider.host_ports:
            # Kept so that later runs (up, start, status) know where kind
            # published the ingress: only creating the cluster chooses them.
            outputs["host_http_port"], outputs["host_https_port"] = provider.host_ports
        return outputs

    def outputs(self, ctx: Context, facts: ClusterFacts) -> Mapping[str, Any]:
        if facts.hostname is None or facts.ingress_address is None:
            return {}
        return self._outputs(ctx, make_provider(ctx), facts.ingress_address, facts.hostname)

    # -- undo ------------------------------------------------------------------------
    def undo(self, ctx: Context, journal: Sequence[JournalEntry]) -> None:
        deleting = {d.get("name") for d in owned_clusters(journal)}
        for entry in reversed(journal):
            if entry.kind == CREATED:
                journaled_provider(ctx, entry.data).delete(ctx.progress)
            elif entry.kind == mp.PRELOAD_PLACED:
                continue  # minikube's own cache: kept (mp.install_preload says why)
            elif entry.kind == ROOM_HOSTS:
                if not deleting:  # else the nodes go, and their files with them
                    self._unroom(ctx, entry.data)
            elif entry.kind == COREDNS_ENTRY:
                if deleting:
                    continue  # the cluster goes, and its DNS with it
                data = entry.data
                problem = hostname_setup.remove_coredns_entry(
                    data.get("context"), data.get("kubeconfig"), str(data["ip"]), str(data["fqdn"])
                )
                if problem:
                    ctx.progress(f"CoreDNS entry for {data['fqdn']} not removed: {problem}")
            else:
                revert(ctx, entry)

    def _unroom(self, ctx: Context, data: Mapping[str, Any]) -> None:
        try:
            rn.remove_from(make_provider(ctx), data.get("files") or [])
        except MboxedError as exc:
            ctx.progress(f"room hosts.toml not removed from the nodes: {exc.message}")


def make() -> ClusterStep:
    return ClusterStep()
