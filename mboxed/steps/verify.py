"""Step `verify`: the smoke test from outside, through the ingress, trusting
the local CA (mboxed.sciencebox.smoke). `mboxed verify` runs the same checks
any time.

Its facts are the smoke test's results, so a later `up` re-checks the
deployment and skips this step only while it still passes. A passing run
records a fingerprint of each user's password (`verified_passwords`): the next
run logs in every user whose password changed since (and a few never tried),
proving that the seeding Job brought LDAP in line with what `mboxed users
export` hands out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mboxed.contract import Action, BaseStep, Context, Plan
from mboxed.errors import Deferred, MboxedError
from mboxed.sciencebox.access import fingerprints, smoke_target
from mboxed.sciencebox.smoke import Report, Target, describe_failures, run_smoke, run_until_healthy


def plan_verify(report: Report) -> Plan:
    if report.ok:
        return Plan.nothing(f"smoke test passes ({report.summary()})")
    failing = ", ".join(c.name for c in report.failed)
    return Plan([Action(f"wait for the smoke test to pass (failing: {failing})", kind="verify")])


class VerifyStep(BaseStep):
    name = "verify"
    description = "smoke test from outside: landing page, IdP, CERNBox, SWAN, a demo user logs in"

    def __init__(self, timeout: float = 300.0, interval: float = 5.0) -> None:
        self.timeout = timeout
        self.interval = interval

    def _target(self, ctx: Context) -> Target:
        if not ctx.outputs("ready"):
            raise Deferred("ready")
        return smoke_target(ctx.outputs, ctx.profile)

    def inputs(self, ctx: Context) -> Mapping[str, Any]:
        return {
            "hostname": ctx.outputs("cluster").get("hostname"),
            "components": ctx.profile.sciencebox.components.model_dump(),
        }

    def facts(self, ctx: Context) -> Report:
        return run_smoke(self._target(ctx))

    def plan(self, ctx: Context, facts: Report) -> Plan:
        return plan_verify(facts)

    def apply(self, ctx: Context, plan: Plan) -> Mapping[str, Any] | None:
        target = self._target(ctx)
        report = run_until_healthy(
            target, timeout=self.timeout, interval=self.interval, progress=ctx.progress
        )
        if not report.ok:
            raise MboxedError(
                f"the smoke test of {target.base} fails after {self.timeout:g}s "
                f"({report.summary()}):\n{describe_failures(report.failed)}",
                hint="fix the first failing check, then `mboxed verify` (or `mboxed up` again)",
            )
        return None

    def outputs(self, ctx: Context, facts: Report) -> Mapping[str, Any]:
        out: dict[str, Any] = {"checks": facts.as_json(), "summary": facts.summary()}
        if facts.ok:
            out["verified_passwords"] = fingerprints(ctx.outputs("users").get("users") or [])
        return out


def make() -> VerifyStep:
    return VerifyStep()
