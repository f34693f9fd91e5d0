"""Step `verify`: the smoke test from outside, through the ingress, trusting
the local CA (mboxed.sciencebox.smoke). `mboxed verify` runs the same checks
any time.

Its facts are the smoke test's results, so a later `up` re-checks the
deployment and skips this step only while it still passes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mboxed.engine import Action, BaseStep, Context, Plan
from mboxed.errors import Deferred, MboxedError
from mboxed.sciencebox.smoke import Report, Target, describe_failures, run_smoke, run_until_healthy

SERVICE_USERS = {"reva"}  # eos-user-cache-refresher's identity, not a person


def pick_user(users: Sequence[Mapping[str, Any]]) -> tuple[str, str] | None:
    """A demo user to log in with: einstein if there, else the first person."""
    people = [u for u in users if u.get("name") not in SERVICE_USERS and u.get("password")]
    for user in people:
        if user.get("name") == "einstein":
            return str(user["name"]), str(user["password"])
    return (str(people[0]["name"]), str(people[0]["password"])) if people else None


def smoke_target(ctx: Context, timeout: float = 15.0) -> Target:
    cluster = ctx.outputs("cluster")
    if not cluster.get("hostname"):
        raise Deferred("cluster")
    ca_cert = None
    if ctx.profile.tls == "local-ca":
        ca_cert = ctx.outputs("tls").get("ca_cert")
        if not ca_cert:
            raise Deferred("tls")
    components = ctx.profile.sciencebox.components
    return Target(
        hostname=str(cluster["hostname"]),
        address=str(cluster.get("ingress_address") or cluster["hostname"]),
        port=int(cluster.get("https_port") or 443),
        ca_cert=str(ca_cert) if ca_cert else None,
        verify=ctx.profile.tls == "local-ca",
        swan=components.swan,
        cernbox=components.cernbox,
        user=pick_user(list(ctx.outputs("users").get("users") or [])),
        timeout=timeout,
    )


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
        return smoke_target(ctx)

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
        return {"checks": facts.as_json(), "summary": facts.summary()}


def make() -> VerifyStep:
    return VerifyStep()
