"""The packages step: the plan as a table, the three-way test through dnf and
brew stand-ins, and for real with apt as root."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mboxed.contract import Context
from mboxed.errors import MboxedError
from mboxed.steps.packages import ESSENTIALS, PackagesFacts, PackagesStep, plan_packages
from tests.file_server import FileServer
from tests.steps.host_world import make_world


@pytest.mark.parametrize(
    ("facts", "summaries", "reason"),
    [
        (
            PackagesFacts("apt", ESSENTIALS["apt"], frozenset({"curl", "ca-certificates"})),
            ["install conntrack socat with apt"],
            "",
        ),
        (
            PackagesFacts("apt", ("curl",), frozenset(), apt_lists_stale=True),
            ["install curl with apt (after apt-get update)"],
            "",
        ),
        (
            PackagesFacts("dnf", ESSENTIALS["dnf"], frozenset(ESSENTIALS["dnf"])),
            [],
            "ca-certificates, curl, conntrack-tools, socat already installed",
        ),
        (
            PackagesFacts("brew", ESSENTIALS["brew"], frozenset()),
            [],
            "nothing needed from brew on this system",
        ),
    ],
)
def test_plan_table(facts: PackagesFacts, summaries: list[str], reason: str) -> None:
    plan = plan_packages(facts)
    assert [a.summary for a in plan.actions] == summaries
    assert plan.reason == reason


def test_no_package_manager_is_a_clear_error() -> None:
    with pytest.raises(MboxedError, match="no package manager found"):
        plan_packages(PackagesFacts(None, (), frozenset()))


# --- three ways, through the stand-ins ------------------------------------------------


def test_dnf_three_way_and_down(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.fake("dnf")
    world.seed(
        "dnf",
        {
            "installed": {"curl": "8.6.0-10.fc40"},
            "available": {"ca-certificates": "1", "conntrack-tools": "1", "socat": "1"},
            "calls": [],
            "repos": [],
        },
    )
    step = PackagesStep()
    planned, applied, again = world.three_way(step)
    assert planned.outcome == "planned"
    assert [a.summary for a in planned.plan.actions] == [  # type: ignore[union-attr]
        "install ca-certificates conntrack-tools socat with dnf"
    ]
    assert applied.outcome == "done"
    assert again.outcome == "skipped"
    calls = world.fake_json("dnf")["calls"]
    assert [c for c in calls if c[0] == "install"] == [
        ["install", "-y", "ca-certificates", "conntrack-tools", "socat"]
    ]
    assert world.ctx.state.step("packages").outputs["manager"] == "dnf"

    _down(world.ctx, step)
    assert set(world.fake_json("dnf")["installed"]) == {"curl"}  # only what it installed
    _down(world.ctx, step)  # idempotent


def test_brew_three_way(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.fake("brew")
    step = PackagesStep(wanted={"brew": ("jq",)})
    planned, applied, again = world.three_way(step)
    assert planned.plan is not None and planned.plan.actions[0].summary == "install jq with brew"
    assert (applied.outcome, again.outcome) == ("done", "skipped")
    assert world.fake_json("brew")["installed"] == {"jq": "1.7.1"}
    _down(world.ctx, step)
    assert world.fake_json("brew")["installed"] == {}
    _down(world.ctx, step)  # brew uninstall of a gone formula exits 1: journaled as check=False


def test_a_failed_install_leaves_nothing_journaled(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.fake("dnf")
    world.seed("dnf", {"installed": {}, "available": {}, "calls": [], "repos": []})
    step = PackagesStep(wanted={"dnf": ("no-such-package",)})
    with pytest.raises(MboxedError, match="Unable to find a match: no-such-package"):
        world.up(step)
    assert world.ctx.journal("packages") == []
    assert world.ctx.state.step("packages").status == "failed"


def _down(ctx: Context, step: PackagesStep) -> None:
    ctx.current_step = step.name
    try:
        step.undo(ctx, ctx.journal(step.name))
    finally:
        ctx.current_step = None


# --- for real: apt as root --------------------------------------------------------------


def _dpkg_installed(name: str) -> bool:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Abbrev}", name],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0 and result.stdout.startswith("ii")


HARMLESS = "mboxed-test-harmless"


def _build_deb(root: Path) -> bytes:
    """A tiny real .deb, built with dpkg-deb: one doc file, no scripts."""
    pkg = root / "pkg"
    (pkg / "DEBIAN").mkdir(parents=True)
    (pkg / "DEBIAN" / "control").write_text(
        f"Package: {HARMLESS}\nVersion: 1.0\nArchitecture: all\n"
        "Maintainer: mboxed tests <tests@localhost>\n"
        "Description: harmless package for the mboxed packages-step test\n"
    )
    doc = pkg / "usr" / "share" / "doc" / HARMLESS
    doc.mkdir(parents=True)
    (doc / "README").write_text("installed by the mboxed test suite; removed by it too\n")
    deb = root / f"{HARMLESS}_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(pkg), str(deb)], check=True)
    return deb.read_bytes()


def _loopback_apt(root: Path, server: FileServer) -> dict[str, str]:
    """An apt repository on 127.0.0.1 and an APT_CONFIG that makes apt-get
    see only it (its own lists and archive cache): the real apt and dpkg
    install for real, and nothing leaves this machine."""
    deb = _build_deb(root)
    filename = f"pool/{HARMLESS}_1.0_all.deb"
    # apt asks a flat repository for "./Packages" and may keep the "./" in
    # the URLs of the files, so serve both spellings.
    for prefix in ("/", "/./"):
        server.add(f"{prefix}{filename}", deb)
    stanza = (
        f"Package: {HARMLESS}\nVersion: 1.0\nArchitecture: all\n"
        "Maintainer: mboxed tests <tests@localhost>\n"
        f"Filename: {filename}\nSize: {len(deb)}\n"
        f"SHA256: {hashlib.sha256(deb).hexdigest()}\n"
        "Description: harmless package for the mboxed packages-step test\n\n"
    )
    for prefix in ("/", "/./"):
        server.add(f"{prefix}Packages", stanza.encode())
    lists, archives = root / "lists", root / "archives"
    (lists / "partial").mkdir(parents=True)
    (archives / "partial").mkdir(parents=True)
    sources = root / "sources.list"
    sources.write_text(f"deb [trusted=yes] {server.url}/ ./\n")
    parts = root / "sources.list.d"
    parts.mkdir()
    conf = root / "apt.conf"
    conf.write_text(
        f'Dir::Etc::SourceList "{sources}";\n'
        f'Dir::Etc::SourceParts "{parts}";\n'
        f'Dir::State::Lists "{lists}";\n'
        f'Dir::Cache::Archives "{archives}";\n'
        'Acquire::Languages "none";\n'
    )
    return {"APT_CONFIG": str(conf)}


@pytest.mark.host
@pytest.mark.timeout(600)
@pytest.mark.skipif(os.geteuid() != 0, reason="installs a package: root only (CI)")
@pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt")
def test_apt_for_real_installs_from_a_loopback_repo_and_down_removes_it(tmp_path: Path) -> None:
    if _dpkg_installed(HARMLESS):
        pytest.skip(f"{HARMLESS} is already installed here; the test would not own it")
    with FileServer() as server:
        env = _loopback_apt(tmp_path / "apt", server)
        world = make_world(tmp_path, system_path=True, env=env)
        step = PackagesStep(wanted={"apt": (HARMLESS,)})
        try:
            planned, applied, again = world.three_way(step)
            assert planned.plan is not None
            assert planned.plan.actions[0].summary.startswith(f"install {HARMLESS} with apt")
            assert not _dpkg_installed(HARMLESS) or applied.outcome == "done"
            assert applied.outcome == "done"
            assert again.outcome == "skipped"
            assert again.plan is not None and again.plan.reason == f"{HARMLESS} already installed"
            assert _dpkg_installed(HARMLESS)
            assert (Path("/usr/share/doc") / HARMLESS / "README").exists()
            assert any(path.endswith(".deb") for path, _ in server.requests)
            assert [e.data["undo"] for e in world.ctx.journal("packages")] == [
                ["apt-get", "-o", "DPkg::Lock::Timeout=300", "remove", "-y", HARMLESS]
            ]
            _down(world.ctx, step)
            assert not _dpkg_installed(HARMLESS)
            _down(world.ctx, step)  # idempotent: apt-get remove of a gone package exits 0
        finally:
            if _dpkg_installed(HARMLESS):
                subprocess.run(["dpkg", "--purge", HARMLESS], check=False)
