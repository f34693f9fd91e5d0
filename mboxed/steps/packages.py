"""Step `packages`: the essentials a local cluster needs, through apt, dnf or brew.

Only the missing ones are installed; each installed package is journaled so
that `down` removes exactly those (and nothing that was there before).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mboxed.contract import Action, BaseStep, Context, Plan
from mboxed.errors import MboxedError
from mboxed.host import normalize_os, package_manager
from mboxed.os_release import read_os_release
from mboxed.package_manager import (
    apt_lists_dir,
    apt_lists_stale,
    install,
    installed_packages,
    removal,
)

# curl and CA certificates for downloads; conntrack and socat are what
# kubelet/kube-proxy and `kubectl port-forward` need on a node (minikube's
# none driver checks for both). macOS ships curl and its CA store.
ESSENTIALS: dict[str, tuple[str, ...]] = {
    "apt": ("ca-certificates", "curl", "conntrack", "socat"),
    "dnf": ("ca-certificates", "curl", "conntrack-tools", "socat"),
    "brew": (),
}

# --- facts --------------------------------------------------------------------------


@dataclass(frozen=True)
class PackagesFacts:
    manager: str | None
    wanted: tuple[str, ...]
    installed: frozenset[str]
    apt_lists_stale: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(p for p in self.wanted if p not in self.installed)


# --- the step ------------------------------------------------------------------------


class PackagesStep(BaseStep):
    name = "packages"
    description = "essential host packages (curl, conntrack, socat, CA certificates)"

    def __init__(self, wanted: Mapping[str, Sequence[str]] | None = None) -> None:
        self.wanted = {k: tuple(v) for k, v in (wanted or ESSENTIALS).items()}

    def inputs(self, ctx: Context) -> Mapping[str, Any]:
        return {"wanted": {k: list(v) for k, v in self.wanted.items()}}

    def facts(self, ctx: Context) -> PackagesFacts:
        import platform

        family = read_os_release(normalize_os(platform.system())).family
        manager = package_manager(ctx.shell.which, family)
        wanted = self.wanted.get(manager or "", ())
        installed = installed_packages(ctx.shell, manager, wanted) if manager else set()
        return PackagesFacts(
            manager=manager,
            wanted=wanted,
            installed=frozenset(installed),
            apt_lists_stale=manager == "apt" and apt_lists_stale(apt_lists_dir(ctx.shell)),
        )

    def plan(self, ctx: Context, facts: PackagesFacts) -> Plan:
        return plan_packages(facts)

    def apply(self, ctx: Context, plan: Plan) -> Mapping[str, Any] | None:
        for action in plan.actions:
            ctx.progress(action.summary)
            manager = action.detail["manager"]
            packages = list(action.detail["packages"])
            install(
                ctx.shell,
                manager,
                packages,
                update=bool(action.detail.get("update")),
                recommends=False,
            )
            for package in packages:
                ctx.record("command", **removal(manager, package))
        return None

    def outputs(self, ctx: Context, facts: PackagesFacts) -> Mapping[str, Any]:
        return {"manager": facts.manager, "packages": sorted(facts.installed)}


def plan_packages(facts: PackagesFacts) -> Plan:
    """Facts in, actions out (pure)."""
    if facts.manager is None:
        raise MboxedError(
            "no package manager found (looked for apt-get, dnf, brew)",
            hint="install curl, conntrack and socat by hand, then run `mboxed up` again",
        )
    if not facts.wanted:
        return Plan.nothing(f"nothing needed from {facts.manager} on this system")
    missing = facts.missing
    if not missing:
        return Plan.nothing(f"{', '.join(facts.wanted)} already installed")
    detail: dict[str, Any] = {"manager": facts.manager, "packages": list(missing)}
    summary = f"install {' '.join(missing)} with {facts.manager}"
    if facts.manager == "apt" and facts.apt_lists_stale:
        detail["update"] = True
        summary += " (after apt-get update)"
    return Plan([Action(summary, "install", detail)])


def make() -> PackagesStep:
    return PackagesStep()
