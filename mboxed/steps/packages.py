"""Step `packages`: the essentials a local cluster needs, through apt, dnf or brew.

Only the missing ones are installed; each installed package is journaled so
that `down` removes exactly those (and nothing that was there before).
"""

from __future__ import annotations

import contextlib
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mboxed.engine import Action, BaseStep, Context, Plan
from mboxed.errors import MboxedError
from mboxed.host import package_manager, parse_os_release
from mboxed.shell import Shell

# curl and CA certificates for downloads; conntrack and socat are what
# kubelet/kube-proxy and `kubectl port-forward` need on a node (minikube's
# none driver checks for both). macOS ships curl and its CA store.
ESSENTIALS: dict[str, tuple[str, ...]] = {
    "apt": ("ca-certificates", "curl", "conntrack", "socat"),
    "dnf": ("ca-certificates", "curl", "conntrack-tools", "socat"),
    "brew": (),
}

APT_LISTS = Path("/var/lib/apt/lists")
APT_ENV = ("env", "DEBIAN_FRONTEND=noninteractive")
# Wait for a dpkg lock held by someone else (unattended-upgrades on a fresh
# Ubuntu VM, another apt) instead of failing at once (apt >= 1.9.11).
APT_WAIT = ("-o", "DPkg::Lock::Timeout=300")
APT_LISTS_MAX_AGE = 24 * 3600.0


# --- pure parsers ---------------------------------------------------------------------


def parse_dpkg_query(text: str) -> set[str]:
    """`dpkg-query -W -f '${Package}\\t${db:Status-Abbrev}\\n'` -> installed names.

    db:Status-Abbrev is three letters (desired, status, error), e.g. 'ii ' for
    installed, 'rc ' for removed with config left (dpkg-query(1))."""
    installed = set()
    for line in text.splitlines():
        name, _, status = line.partition("\t")
        if len(status) >= 2 and status[1] == "i":
            installed.add(name.split(":")[0].strip())
    return installed


def parse_dnf_list_installed(text: str) -> set[str]:
    """`dnf list --installed NAMES` -> installed names.

    Lines after the 'Installed Packages' header read 'name.arch  version  @repo'
    (dnf/cli/output.py, Output.listPkgs); dnf5 prints 'Installed packages'."""
    installed = set()
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3 or line.lower().startswith(("installed packages", "last metadata")):
            continue
        name, dot, _arch = fields[0].rpartition(".")
        installed.add(name if dot else fields[0])
    return installed


def parse_brew_list(text: str) -> set[str]:
    """`brew list --formula -1` -> one formula name a line."""
    return {line.strip() for line in text.splitlines() if line.strip()}


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


def installed_packages(shell: Any, manager: str, names: Sequence[str]) -> set[str]:
    if not names:
        return set()
    if manager == "apt":
        result = shell.run(
            ["dpkg-query", "-W", "-f", "${Package}\\t${db:Status-Abbrev}\\n", *names],
            check=False,
            timeout=60,
        )
        return parse_dpkg_query(result.stdout)
    if manager == "dnf":
        result = shell.run(["dnf", "list", "--installed", *names], check=False, timeout=300)
        return parse_dnf_list_installed(result.stdout)
    if manager == "brew":
        result = shell.run(["brew", "list", "--formula", "-1"], check=False, timeout=120)
        return parse_brew_list(result.stdout)
    return set()


def apt_lists_dir(shell: Shell) -> Path:
    """Where apt keeps its package lists, as apt itself is configured
    (APT_CONFIG, apt.conf.d); the Debian default when apt-config cannot say."""
    result = shell.run(["apt-config", "shell", "LISTS", "Dir::State::Lists/d"], check=False)
    value = shlex.split(result.stdout.partition("=")[2]) if result.ok else []
    return Path(value[0]) if value else APT_LISTS


def apt_lists_stale(lists: Path = APT_LISTS, now: float | None = None) -> bool:
    """True when apt has no package lists or they are older than a day."""
    try:
        stamps = [p.stat().st_mtime for p in lists.glob("*_Packages*")]
    except OSError:
        return True
    if not stamps:
        return True
    return (now or time.time()) - max(stamps) > APT_LISTS_MAX_AGE


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

        family = "macos" if platform.system() == "Darwin" else "other"
        if family != "macos":
            with contextlib.suppress(OSError):
                family = parse_os_release(Path("/etc/os-release").read_text()).family
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
            if manager == "apt":
                env = APT_ENV
                if action.detail.get("update"):
                    ctx.shell.run(
                        [*env, "apt-get", *APT_WAIT, "update", "-q"], root=True, timeout=600
                    )
                ctx.shell.run(
                    [
                        *env,
                        "apt-get",
                        *APT_WAIT,
                        "install",
                        "-y",
                        "-q",
                        "--no-install-recommends",
                        *packages,
                    ],
                    root=True,
                    timeout=1800,
                )
                undo = ["apt-get", *APT_WAIT, "remove", "-y"]
            elif manager == "dnf":
                ctx.shell.run(["dnf", "install", "-y", *packages], root=True, timeout=1800)
                undo = ["dnf", "remove", "-y"]
            elif manager == "brew":
                ctx.shell.run(["brew", "install", *packages], timeout=1800)
                undo = ["brew", "uninstall"]
            else:  # pragma: no cover - plan_packages only plans the three above
                raise MboxedError(f"packages: unknown package manager {manager!r}")
            for package in packages:
                # brew uninstall of a gone formula exits 1: a second `down` must not fail
                ctx.record(
                    "command",
                    undo=[*undo, package],
                    root=manager != "brew",
                    check=manager != "brew",
                    package=package,
                )
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
