"""Step `preflight`: the host checked against the profile before anything changes.

It reads the host (mboxed.host.gather), checks it (mboxed.host_checks, the
same checks `mboxed doctor` prints) and stops `up` when a check fails (unless
--force), saying why. It never changes anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mboxed.contract import BaseStep, Context, Plan
from mboxed.host import gather
from mboxed.host_checks import Check, evaluate


@dataclass(frozen=True)
class PreflightFacts:
    checks: tuple[Check, ...]
    platform: str
    package_manager: str | None


class PreflightStep(BaseStep):
    name = "preflight"
    description = "the host meets the profile's needs"

    def inputs(self, ctx: Context) -> Mapping[str, Any]:
        return {"provider": ctx.profile.provider.model_dump(mode="json")}

    def facts(self, ctx: Context) -> PreflightFacts:
        snap = gather(ctx.shell, ctx.options.mirror, network=not ctx.options.dry_run)
        checks = evaluate(snap, ctx.profile, ctx.options.mirror)
        return PreflightFacts(tuple(checks), snap.host.platform, snap.host.package_manager)

    def plan(self, ctx: Context, facts: PreflightFacts) -> Plan:
        return plan_preflight(facts, ctx.profile_name or "this profile", ctx.options.force)

    def apply(self, ctx: Context, plan: Plan) -> Mapping[str, Any] | None:
        # Preflight only reads the host: its plan is empty or blocked, never
        # a list of actions, so the engine never calls this.
        raise AssertionError("preflight has nothing to apply")

    def outputs(self, ctx: Context, facts: PreflightFacts) -> Mapping[str, Any]:
        return {
            "platform": facts.platform,
            "package_manager": facts.package_manager,
            "checks": {c.id: c.status for c in facts.checks},
        }


def plan_preflight(facts: PreflightFacts, profile_name: str, force: bool) -> Plan:
    failed = [c for c in facts.checks if c.status == "fail"]
    warned = [c for c in facts.checks if c.status == "warn"]
    note = f" ({len(warned)} warning(s): {', '.join(c.id for c in warned)})" if warned else ""
    if failed and not force:
        lines = [f"{c.id}: {c.value} (need {c.need})" for c in failed]
        fixes = [c.fix for c in failed if c.fix]
        return Plan.blocked_by(
            f"this host does not meet the needs of {profile_name}: {'; '.join(lines)}",
            "; ".join(fixes) + " — or `mboxed up --force` to go on anyway"
            if fixes
            else "`mboxed up --force` goes on anyway",
        )
    if failed:
        ids = ", ".join(c.id for c in failed)
        return Plan.nothing(f"{len(failed)} check(s) failed ({ids}); going on because of --force")
    return Plan.nothing(f"host meets the needs of {profile_name}{note}")


def make() -> PreflightStep:
    return PreflightStep()
