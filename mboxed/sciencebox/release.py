"""The ScienceBox release as helm reports it, and what to do about it.

Facts come from helm itself (`helm status -o json`, `helm get values -o
json`, `helm list -o json`, through mboxed.sciencebox.helm): a release
deleted by hand is noticed, and a re-run with unchanged values does nothing.
`plan_release` is pure: facts in, plan out.

A release helm left half-done is recovered before the upgrade, as helm v3.17
allows (pkg/action/upgrade.go prepareUpgrade): a pending last revision
(pending-install, pending-upgrade, pending-rollback: a helm killed mid-run)
makes every upgrade fail with errPending, so it is rolled back to the last
revision that was deployed (pkg/action/rollback.go has no such check); a
first install that never deployed has nothing to roll back to and is
uninstalled, then installed again, as is a release whose uninstall never
finished (`uninstalling`: no upgrade takes it, "has no deployed releases").
A failed last revision needs nothing first: upgrade starts from the last
deployed revision, or from the failed one when none was.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mboxed.contract import Action, Plan
from mboxed.errors import MboxedError


def normalise(values: Any) -> Any:
    """What helm hands back from a values file: the same data after a JSON round trip."""
    return json.loads(json.dumps(values, default=str))


def changed_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted key paths whose values differ (never the values: they hold secrets)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            out += changed_keys(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    return [] if old == new else [prefix.rstrip(".") or "(all)"]


def secret_strings(secrets: Mapping[str, Any], users: Iterable[Mapping[str, Any]]) -> list[str]:
    """The generated secrets and generated users' passwords: registered with
    the shell so that helm's output of our values never reaches the log. The
    classic demo passwords are public (and words like "admin" are everywhere),
    as the users step also decides."""
    found = [str(v) for v in secrets.values() if isinstance(v, str)]
    found += [
        str(u["password"]) for u in users if u.get("password") and u.get("source") != "classic"
    ]
    return found


def check_namespace(chart_name: str, namespace: str) -> None:
    if chart_name == "sciencebox" and namespace != "default":
        raise MboxedError(
            f"sciencebox.namespace is {namespace!r}, but the ScienceBox chart only "
            "works in namespace 'default' (its cernbox templates hard-code "
            "<release>-mgm.default.svc.cluster.local)",
            hint="remove sciencebox.namespace from your profile (default: default)",
        )


@dataclass(frozen=True)
class ReleaseFacts:
    release: str
    namespace: str
    chart_path: str
    chart_version: str
    desired: dict[str, Any]
    status: dict[str, Any] | None = None  # `helm status -o json`, None = no release
    deployed: dict[str, Any] = field(default_factory=dict)  # `helm get values -o json`
    deployed_chart: str = ""  # `helm list -o json` "chart": name-version
    postrender_current: bool = True  # the post-renderer on disk renders with today's secrets
    leftover_defaults: tuple[str, ...] = ()  # chart default secrets in the deployed manifest
    users_changed: bool = False  # the deployed LDIF differs from the wanted one
    storage_changed: bool = False  # ldap.persistence differs: LDAP StatefulSet recreated
    seed_job: str = ""  # the LDAP seeding Job's name
    seed_job_state: str = ""  # "" (not read), present, missing, failed
    ldap_statefulset: str = ""  # the LDAP server's StatefulSet's name
    # `helm history -o json` (oldest first), read when the last revision is not deployed
    history: tuple[dict[str, Any], ...] = ()
    eos_job: str = ""  # the EOS configuration Job, to re-run: the EOS user list changed
    # the chart's digest now, and the one the last install by mboxed used (the
    # step's outputs): a local chart edited without a version bump changes only this
    chart_digest: str = ""
    deployed_chart_digest: str = ""

    @property
    def state(self) -> str:
        return str(((self.status or {}).get("info") or {}).get("status", ""))

    @property
    def revision(self) -> int:
        return int((self.status or {}).get("version") or 0)

    @property
    def description(self) -> str:
        return str(((self.status or {}).get("info") or {}).get("description", ""))

    def last_deployed_revision(self) -> int:
        """The newest earlier revision that was deployed (0: none ever was).
        `superseded` ones were deployed once too (pkg/release/status.go)."""
        earlier = [r for r in self.history if int(r.get("revision") or 0) != self.revision]
        for wanted in ("deployed", "superseded"):
            found = [int(r.get("revision") or 0) for r in earlier if r.get("status") == wanted]
            if found:
                return max(found)
        return 0


PENDING = ("pending-install", "pending-upgrade", "pending-rollback")


def _last_revision(facts: ReleaseFacts) -> str:
    said = facts.description[:160]
    return f"revision {facts.revision} is {facts.state}" + (f" ({said})" if said else "")


def _recovery(facts: ReleaseFacts, where: str, detail: dict[str, Any]) -> Action | None:
    """What makes a release helm left half-done upgradeable again (module docstring)."""
    if facts.state not in (*PENDING, "uninstalling"):
        return None
    last = _last_revision(facts)
    target = facts.last_deployed_revision()
    if facts.state != "uninstalling" and target:
        return Action(
            f"roll back {where} to revision {target}, the last deployed one: {last}, a helm "
            "run that never finished, and helm refuses to upgrade the release until it is "
            f"rolled back (helm rollback {facts.release} {target})",
            kind="rollback",
            detail={**detail, "revision": target},
        )
    why = (
        "a helm uninstall never finished"
        if facts.state == "uninstalling"
        else "its install never deployed, so there is no revision to roll back to"
    )
    return Action(
        f"uninstall {where}: {last}; {why}; the install starts over (helm uninstall)",
        kind="uninstall",
        detail=detail,
    )


def _failed(facts: ReleaseFacts) -> str:
    """Why an upgrade is all a failed release needs."""
    target = facts.last_deployed_revision()
    start = f"from revision {target}, the last deployed" if target else "in place"
    return f"{_last_revision(facts)}; helm upgrades a failed release {start}"


def _rerun(kind: str, what: str, detail: dict[str, Any]) -> Action:
    return Action(
        f"re-run the {what}: delete the finished job, so that the upgrade creates it again",
        kind=kind,
        detail=detail,
    )


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12] or "none"


def plan_release(facts: ReleaseFacts, chart_name: str = "sciencebox") -> Plan:
    where = f"release {facts.release} in namespace {facts.namespace}"
    wanted_chart = f"{chart_name}-{facts.chart_version}"
    detail = {"release": facts.release, "namespace": facts.namespace}
    install = Action(
        f"install {where} from chart {wanted_chart} (helm upgrade --install)",
        kind="install",
        detail=detail,
    )
    if facts.status is None:
        return Plan([install])
    recovery = _recovery(facts, where, detail)
    if recovery is not None and recovery.kind == "uninstall":
        return Plan([recovery, install])
    reasons = []
    if recovery is not None:
        reasons.append(f"revision {facts.revision} never finished ({facts.state})")
    elif facts.state == "failed":
        reasons.append(_failed(facts))
    elif facts.state != "deployed":
        reasons.append(f"its status is {facts.state or 'unknown'}")
    if facts.deployed_chart and facts.deployed_chart != wanted_chart:
        reasons.append(f"chart {facts.deployed_chart} -> {wanted_chart}")
    elif facts.deployed_chart_digest and facts.chart_digest != facts.deployed_chart_digest:
        reasons.append(
            f"chart {wanted_chart} changed: {_short(facts.deployed_chart_digest)} -> "
            f"{_short(facts.chart_digest)}"
        )
    if not facts.postrender_current:
        reasons.append("post-render config (template secrets, components) changed")
    if facts.leftover_defaults:
        reasons.append(f"{len(facts.leftover_defaults)} chart default secret(s) in the manifest")
    seed_trouble = {"missing": "is missing", "failed": "failed"}.get(facts.seed_job_state, "")
    if seed_trouble:
        reasons.append(f"the LDAP seeding job {facts.seed_job} {seed_trouble}")
    keys = changed_keys(facts.deployed, facts.desired)
    if keys:
        shown = ", ".join(keys[:6]) + (f" and {len(keys) - 6} more" if len(keys) > 6 else "")
        reasons.append(f"values changed: {shown}")
    if not reasons:
        return Plan.nothing(f"{where} is at revision {facts.revision}, deployed with these values")
    actions = [recovery] if recovery is not None else []
    if facts.storage_changed:
        actions.append(
            Action(
                f"delete statefulset {facts.ldap_statefulset} and job {facts.seed_job}: the "
                "LDAP storage (ldap.persistence) changes, which a StatefulSet cannot take in "
                "place; the upgrade creates both again and the job loads the users",
                kind="recreate-ldap",
                detail={
                    **detail,
                    "statefulset": facts.ldap_statefulset,
                    "job": facts.seed_job,
                },
            )
        )
    elif facts.users_changed or seed_trouble:
        why = "users or groups changed" if facts.users_changed else f"it {seed_trouble}"
        what = f"LDAP seeding job {facts.seed_job} ({why})"
        actions.append(_rerun("reseed", what, {**detail, "job": facts.seed_job}))
    if facts.eos_job:
        what = f"EOS configuration job {facts.eos_job} (users changed)"
        actions.append(_rerun("reconfigure-eos", what, {**detail, "job": facts.eos_job}))
    actions.append(Action(f"upgrade {where}: {'; '.join(reasons)}", kind="upgrade", detail=detail))
    return Plan(actions)
