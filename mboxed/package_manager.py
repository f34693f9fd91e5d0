"""apt, dnf and brew: which packages are installed, installing some, and the
command that removes each again.

The steps that install host packages (`packages`, `docker`) come here, so
both install and journal the same way. Which manager a host has is a host
fact (mboxed.host.package_manager).
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mboxed.errors import MboxedError

APT_LISTS = Path("/var/lib/apt/lists")
APT_ENV = ("env", "DEBIAN_FRONTEND=noninteractive")
# Wait for a dpkg lock held by someone else (unattended-upgrades on a fresh
# Ubuntu VM, another apt) instead of failing at once (apt >= 1.9.11).
APT_WAIT = ("-o", "DPkg::Lock::Timeout=300")
APT_LISTS_MAX_AGE = 24 * 3600.0

INSTALL_TIMEOUT = 1800


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


def dnf_major(version_output: str) -> int:
    """`dnf --version` -> 5 for dnf5, else 4. dnf5's first line is
    "dnf5 version 5.2.8.1" (dnf5/main.cpp print_versions); dnf4's is the bare
    version ("4.21.1", dnf/cli/cli.py)."""
    first = version_output.strip().splitlines()[:1]
    if first and first[0].startswith("dnf5 "):
        return 5
    if first and first[0].split(".")[0].isdigit():
        return int(first[0].split(".")[0])
    return 4


def dnf_add_repo(major: int, repo: str) -> tuple[list[str], list[str]]:
    """(the install of config-manager, the command adding the .repo URL).
    dnf4's config-manager (dnf-plugins-core) takes `--add-repo URL`; dnf5's
    (dnf5-plugins) refuses that ("Unknown argument", dnf5 issue #1537) and
    wants `addrepo --from-repofile=URL` (doc/dnf5_plugins/config-manager.8.rst)."""
    if major >= 5:
        return (
            ["dnf", "-y", "install", "dnf5-command(config-manager)"],
            ["dnf", "config-manager", "addrepo", f"--from-repofile={repo}"],
        )
    return (
        ["dnf", "-y", "install", "dnf-plugins-core"],
        ["dnf", "config-manager", "--add-repo", repo],
    )


def parse_brew_list(text: str) -> set[str]:
    """`brew list --formula -1` -> one formula name a line."""
    return {line.strip() for line in text.splitlines() if line.strip()}


# --- reading ---------------------------------------------------------------------------


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


def apt_lists_dir(shell: Any) -> Path:
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


# --- changing ---------------------------------------------------------------------------


def install(
    shell: Any,
    manager: str,
    packages: Sequence[str],
    *,
    update: bool = False,
    recommends: bool = True,
    repo: str | None = None,
) -> None:
    """Install `packages`. apt: `update` refreshes the lists first, and
    `recommends=False` leaves the recommended packages out. dnf: `repo` is a
    .repo URL added first, in the syntax of the host's dnf (4 or 5)."""
    if manager == "apt":
        if update:
            shell.run([*APT_ENV, "apt-get", *APT_WAIT, "update", "-q"], root=True, timeout=600)
        leaner = [] if recommends else ["--no-install-recommends"]
        shell.run(
            [*APT_ENV, "apt-get", *APT_WAIT, "install", "-y", "-q", *leaner, *packages],
            root=True,
            timeout=INSTALL_TIMEOUT,
        )
    elif manager == "dnf":
        if repo:
            version = shell.run(["dnf", "--version"], check=False, timeout=60)
            plugin, add = dnf_add_repo(dnf_major(version.stdout), repo)
            shell.run(plugin, root=True, timeout=900)
            shell.run(add, root=True, timeout=300)
        shell.run(["dnf", "install", "-y", *packages], root=True, timeout=INSTALL_TIMEOUT)
    elif manager == "brew":
        shell.run(["brew", "install", *packages], timeout=INSTALL_TIMEOUT)
    else:
        raise MboxedError(f"unknown package manager {manager!r}")


def removal(manager: str, package: str) -> dict[str, Any]:
    """The journal data (kind "command") that removes `package` again."""
    if manager == "apt":
        return {
            "undo": ["apt-get", *APT_WAIT, "remove", "-y", package],
            "root": True,
            "package": package,
        }
    if manager == "dnf":
        return {"undo": ["dnf", "remove", "-y", package], "root": True, "package": package}
    if manager == "brew":
        # brew uninstall of a gone formula exits 1: a second `down` must not fail
        undo = ["brew", "uninstall", package]
        return {"undo": undo, "root": False, "check": False, "package": package}
    raise MboxedError(f"unknown package manager {manager!r}")
