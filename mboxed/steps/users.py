"""Step `users`: the deployment's users and groups, rendered once and kept.

It needs neither the cluster nor the secrets: users are generated from the
profile (`users.preset`, `users.roster`, `users.generate`) and stored in the
0600 state. Users already stored keep their uid, password and UUID when the
profile changes (see mboxed.sciencebox.allocation.build_users), so adding ten
students to a class never changes the first twenty's passwords.

Outputs (BRIEF): `users`: [{name, uid, gid, password, display_name, email,
groups, ...}], `groups`: [{name, gid, members, ...}]; and `removed`: the
records of users deployed once and no longer wanted (the LDIF deletes them
from LDAP; their uid stays reserved; one who comes back gets it again).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mboxed.contract import Action, BaseStep, Context, Plan
from mboxed.sciencebox import accounts, allocation
from mboxed.sciencebox.ldif import render_ldif


def _secret_passwords(users: list[dict[str, Any]]) -> list[str]:
    # The classic passwords are public demo credentials (and short words like
    # "reva" or "admin" would garble the log if redacted); the rest are secret.
    return [str(u["password"]) for u in users if u.get("source") != "classic" and u.get("password")]


class UsersStep(BaseStep):
    name = "users"
    description = "demo and class users: LDIF with {SSHA} hashes, EOS uid/gid list"
    keeps_outputs_on_down = True  # same passwords after down + up

    def inputs(self, ctx: Context) -> Mapping[str, Any]:
        users = ctx.profile.users
        roster_hash = None
        if users.roster:
            path = Path(users.roster).expanduser()
            roster_hash = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        return {"users": users.model_dump(mode="json"), "roster_sha256": roster_hash}

    def _build(
        self, ctx: Context
    ) -> tuple[list[dict[str, Any]], list[Any], list[accounts.User], list[accounts.Group]]:
        """The stored users, the stored records of users who left, and the
        users and groups the profile wants now (stored ones kept)."""
        stored = ctx.outputs(self.name)
        stored_users = list(stored.get("users") or [])
        removed = list(stored.get("removed") or [])
        previous = [*accounts.full_records(removed), *stored_users]
        ctx.shell.add_secret(*_secret_passwords(previous))
        wanted = allocation.wanted_from_profile(ctx.profile.users)
        users, groups = allocation.build_users(wanted, previous)
        return stored_users, removed, users, groups

    def facts(self, ctx: Context) -> dict[str, Any]:
        stored_users, _, users, groups = self._build(ctx)
        from mboxed.sciencebox.values import ldif_size_problem

        return {
            # found here, before the class is stored, not at the install step
            "too_big": ldif_size_problem(render_ldif(users, groups), len(users)),
            "stored_users": stored_users,
            "stored_groups": list(ctx.outputs(self.name).get("groups") or []),
            "users": [u.to_dict() for u in users],
            "groups": [g.to_dict() for g in groups],
        }

    def plan(self, ctx: Context, facts: Mapping[str, Any]) -> Plan:
        if facts.get("too_big"):
            message, hint = facts["too_big"]
            return Plan.blocked_by(message.removeprefix("users: "), hint)
        before = {u["name"]: u for u in facts["stored_users"]}
        after = {u["name"]: u for u in facts["users"]}
        added = [n for n in after if n not in before]
        removed = [n for n in before if n not in after]
        changed = [n for n in after if n in before and after[n] != before[n]]
        groups_changed = facts["groups"] != facts["stored_groups"]
        if not (added or removed or changed or groups_changed):
            return Plan.nothing(f"{len(after)} users and {len(facts['groups'])} groups kept")
        actions = []
        if added:
            actions.append(Action(f"add {len(added)} user(s): {_names(added)}", kind="add"))
        if removed:
            actions.append(
                Action(f"remove {len(removed)} user(s): {_names(removed)}", kind="remove")
            )
        if changed:
            actions.append(
                Action(f"update {len(changed)} user(s): {_names(changed)}", kind="update")
            )
        if groups_changed and not (added or removed or changed):
            actions.append(Action("update group membership", kind="groups"))
        return Plan(actions)

    def apply(self, ctx: Context, plan: Plan) -> Mapping[str, Any]:
        stored_users, removed_before, users, groups = self._build(ctx)
        out_users = [u.to_dict() for u in users]
        ctx.shell.add_secret(*_secret_passwords(out_users))
        removed = allocation.removed_users(stored_users, removed_before, users)
        return {"users": out_users, "groups": [g.to_dict() for g in groups], "removed": removed}


def _names(names: list[str], limit: int = 4) -> str:
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:limit])}, … {names[-1]}"


def make() -> UsersStep:
    return UsersStep()
