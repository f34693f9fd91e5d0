"""The package-manager layer: parsers on captured output, the age of apt's
lists, and installing through the dnf and brew stand-ins with the journal data
that removes each package again (apt for real: tests/steps/test_packages.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mboxed.errors import MboxedError
from mboxed.journal import JournalEntry, revert
from mboxed.package_manager import (
    APT_WAIT,
    apt_lists_stale,
    dnf_major,
    install,
    installed_packages,
    parse_brew_list,
    parse_dnf_list_installed,
    parse_dpkg_query,
    removal,
)
from tests.steps.host_world import make_world

# Captured on Debian 12: dpkg-query -W -f '${Package}\t${db:Status-Abbrev}\n' \
#   curl ca-certificates socat conntrack sl   (the last three not installed;
# dpkg-query says so on stderr and exits 1); plus a removed-with-config entry.
DPKG_QUERY = "ca-certificates\tii \ncurl\tii \nlibfoo:amd64\tii \nsl\trc \n"

# dnf 4 `dnf list --installed curl socat` (Fedora 40).
DNF_LIST = """\
Last metadata expiration check: 0:12:03 ago on Sun 24 Nov 2024 10:00:00 AM UTC.
Installed Packages
curl.x86_64                                  8.6.0-10.fc40                        @updates
socat.x86_64                                 1.8.0.0-2.fc40                       @fedora
"""


def test_parse_dpkg_query_keeps_installed_only() -> None:
    assert parse_dpkg_query(DPKG_QUERY) == {"ca-certificates", "curl", "libfoo"}


def test_parse_dnf_list_installed() -> None:
    assert parse_dnf_list_installed(DNF_LIST) == {"curl", "socat"}


def test_parse_brew_list() -> None:
    assert parse_brew_list("colima\ndocker\n\n") == {"colima", "docker"}


def test_apt_lists_age(tmp_path: Path) -> None:
    assert apt_lists_stale(tmp_path)  # no lists at all
    lists = tmp_path / "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"
    lists.write_text("")
    assert not apt_lists_stale(tmp_path)
    assert apt_lists_stale(tmp_path, now=time.time() + 2 * 86400)


# `dnf --version` first lines: dnf5 on Fedora 41 (dnf5/main.cpp print_versions)
# and dnf4 on Fedora 40 (dnf/cli/cli.py).
DNF5_VERSION = "dnf5 version 5.2.8.1\ndnf5 plugin API version 2.0\nlibdnf5 version 5.2.8.1\n"
DNF4_VERSION = "4.21.1\n  Installed: dnf-0:4.21.1-1.fc40.noarch at Mon 01 Jul 2024\n"


def test_dnf_major_from_version_output() -> None:
    assert dnf_major(DNF5_VERSION) == 5
    assert dnf_major(DNF4_VERSION) == 4
    assert dnf_major("") == 4


@pytest.mark.parametrize(
    ("major", "plugin", "add"),
    [
        (4, "dnf-plugins-core", ["config-manager", "--add-repo", "{repo}"]),
        (
            5,
            "dnf5-command(config-manager)",
            ["config-manager", "addrepo", "--from-repofile={repo}"],
        ),
    ],
)
def test_dnf_adds_the_repository_in_its_own_syntax_before_installing_from_it(
    tmp_path: Path, major: int, plugin: str, add: list[str]
) -> None:
    world = make_world(tmp_path)
    world.fake("dnf")
    world.seed("dnf", {"major": major})
    repo = "https://download.docker.com/linux/centos/docker-ce.repo"
    install(world.ctx.shell, "dnf", ["docker-ce", "docker-ce-cli"], repo=repo)
    calls = world.fake_json("dnf")["calls"]
    assert calls == [
        ["--version"],
        ["-y", "install", plugin],
        [a.format(repo=repo) for a in add],
        ["install", "-y", "docker-ce", "docker-ce-cli"],
    ]
    assert world.fake_json("dnf")["repos"] == [repo]
    assert installed_packages(world.ctx.shell, "dnf", ["docker-ce", "curl"]) == {"docker-ce"}


@pytest.mark.parametrize(
    ("major", "argv", "code", "message"),
    [
        (5, ["config-manager", "--add-repo", "U"], 2, 'Unknown argument "--add-repo"'),
        (4, ["config-manager", "addrepo", "--from-repofile=U"], 1, "unrecognized arguments"),
    ],
)
def test_the_fake_dnf_refuses_the_other_versions_syntax(
    tmp_path: Path, major: int, argv: list[str], code: int, message: str
) -> None:
    world = make_world(tmp_path)
    world.fake("dnf")
    world.seed("dnf", {"major": major})
    result = world.ctx.shell.run(["dnf", *argv], check=False)
    assert result.returncode == code and message in result.stderr
    assert world.fake_json("dnf")["repos"] == []


@pytest.mark.parametrize(
    ("manager", "undo", "root", "check"),
    [
        ("apt", ["apt-get", *APT_WAIT, "remove", "-y", "socat"], True, True),
        ("dnf", ["dnf", "remove", "-y", "socat"], True, True),
        # brew uninstall of a gone formula exits 1: a second `down` must pass
        ("brew", ["brew", "uninstall", "socat"], False, False),
    ],
)
def test_removal_is_the_journal_data_that_undoes_an_install(
    manager: str, undo: list[str], root: bool, check: bool
) -> None:
    data = removal(manager, "socat")
    assert data["undo"] == undo and data["package"] == "socat"
    assert bool(data.get("root")) is root
    assert data.get("check", True) is check


def test_brew_install_and_its_removal_through_the_reverter(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.fake("brew")
    install(world.ctx.shell, "brew", ["jq"])
    assert installed_packages(world.ctx.shell, "brew", ["jq"]) == {"jq"}
    entry = JournalEntry("command", removal("brew", "jq"))
    revert(world.ctx, entry)
    assert world.fake_json("brew")["installed"] == {}
    revert(world.ctx, entry)  # idempotent: the failing second uninstall is not an error


def test_an_unknown_manager_is_refused() -> None:
    with pytest.raises(MboxedError, match="unknown package manager 'pacman'"):
        removal("pacman", "socat")
