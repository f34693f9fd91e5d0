"""Step `summary`: where ScienceBox is, where the credentials are, what next.

It changes nothing: its plan is always empty and its outputs (URLs, commands)
land in the state, from where `mboxed up` prints them at the end of a run
(mboxed.sciencebox.summary.render) and any other command can show them again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mboxed.contract import BaseStep, Context, Plan
from mboxed.errors import Deferred
from mboxed.sciencebox.access import pick_user
from mboxed.sciencebox.summary import build_summary


class SummaryStep(BaseStep):
    name = "summary"
    description = "URLs, credentials, next commands"

    def facts(self, ctx: Context) -> dict[str, Any]:
        cluster = ctx.outputs("cluster")
        if not cluster.get("hostname"):
            raise Deferred("cluster")
        tls = ctx.outputs("tls")
        components = ctx.profile.sciencebox.components
        user = pick_user(list(ctx.outputs("users").get("users") or []))
        return build_summary(
            hostname=str(cluster["hostname"]),
            https_port=cluster.get("https_port"),
            swan=components.swan,
            cernbox=components.cernbox,
            deployment=ctx.deployment,
            demo_user=user[0] if user else None,
            tls=ctx.profile.tls,
            ca_cert=tls.get("ca_cert"),
            trusted=bool(tls.get("trusted")) or ctx.options.trust,
        )

    def plan(self, ctx: Context, facts: dict[str, Any]) -> Plan:
        return Plan.nothing(f"ScienceBox is at {facts['url']}")

    def apply(self, ctx: Context, plan: Plan) -> Mapping[str, Any] | None:  # pragma: no cover
        return None  # the plan is always empty

    def outputs(self, ctx: Context, facts: dict[str, Any]) -> Mapping[str, Any]:
        return facts


def make() -> SummaryStep:
    return SummaryStep()
