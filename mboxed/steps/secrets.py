"""Step `secrets`: fresh per-install secrets for ScienceBox, kept in the state.

Facts are the secrets already stored (the state file is 0600); the plan
generates only those missing, so re-running `up` keeps every secret, and a
secret lost from a hand-edited state is generated again. Outputs: one entry
per name of mboxed.sciencebox.secrets.SECRET_NAMES. Nothing here prints or
logs a secret: every value is registered with the shell's redaction first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mboxed.contract import Action, BaseStep, Context, Plan
from mboxed.sciencebox import secrets as sb


class SecretsStep(BaseStep):
    name = "secrets"
    description = "fresh per-install secrets (tokens, passwords, EOS sss keytab)"
    keeps_outputs_on_down = True  # same passwords after down + up

    def inputs(self, ctx: Context) -> Mapping[str, Any]:
        # The set of secrets depends only on this mboxed version's list.
        return {"names": list(sb.SECRET_NAMES)}

    def facts(self, ctx: Context) -> dict[str, Any]:
        stored = ctx.outputs(self.name)
        ctx.shell.add_secret(*sb.secret_values(stored))
        return {"missing": sb.missing(stored)}

    def plan(self, ctx: Context, facts: Mapping[str, Any]) -> Plan:
        missing = list(facts["missing"])
        if not missing:
            return Plan.nothing(f"all {len(sb.SECRET_NAMES)} secrets kept from the state")
        kinds = {spec.name: spec.kind for spec in sb.SPECS}
        summary = (
            f"generate {len(missing)} secret(s): " + ", ".join(missing)
            if len(missing) < len(sb.SECRET_NAMES)
            else f"generate all {len(missing)} secrets (hex tokens, passwords, EOS keytab)"
        )
        return Plan([Action(summary, kind="generate", detail={"names": missing, "kinds": kinds})])

    def apply(self, ctx: Context, plan: Plan) -> Mapping[str, Any]:
        stored = ctx.outputs(self.name)
        complete = sb.complete(stored)
        ctx.shell.add_secret(*sb.secret_values(complete))
        return complete


def make() -> SecretsStep:
    return SecretsStep()
