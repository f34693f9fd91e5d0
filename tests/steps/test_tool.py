"""The kubectl/helm/minikube/kind steps: version parsers on real output
(the real kubectl of this machine among them), the plan as a table, and the
three-way test installing through the mirror option from a real HTTP server
on 127.0.0.1 (the real kubectl binary; the helm/minikube/kind stand-ins
packed the way upstream publishes them)."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mboxed.contract import Options
from mboxed.download_failures import DownloadError
from mboxed.pins import PINNED, Release
from mboxed.profile import load_profile
from mboxed.shell import Shell
from mboxed.steps.tool import (
    SPECS,
    Found,
    ToolFacts,
    ToolStep,
    current_platform,
    kubectl_ok,
    parse_helm_version,
    parse_kind_version,
    parse_kubectl_version,
    parse_minikube_version,
    plan_tool,
    read_version,
    version_tuple,
)
from tests.file_server import FileServer
from tests.steps.host_world import FAKE_BIN, HostWorld, make_world
from tests.test_files import tar_gz

PLATFORM = current_platform()
REAL_KUBECTL = Path("/usr/bin/kubectl")

# `kubectl version --client -o json` of the kubectl on this machine.
KUBECTL_JSON = """{
  "clientVersion": {
    "major": "1",
    "minor": "32+",
    "gitVersion": "v1.32.4-dispatcher",
    "gitCommit": "4cb5f0764b8d5f425645c6f433394fede34a8a26",
    "gitTreeState": "clean",
    "buildDate": "2025-05-15T20:09:34Z",
    "goVersion": "go1.23.8",
    "compiler": "gc",
    "platform": "linux/amd64"
  },
  "kustomizeVersion": "v5.5.0"
}"""


def profile(*overrides: str) -> Any:
    return load_profile("demo", overrides=list(overrides)).profile


# --- parsers --------------------------------------------------------------------------


def test_parse_kubectl_version() -> None:
    assert parse_kubectl_version(KUBECTL_JSON) == "v1.32.4-dispatcher"


def test_parse_helm_version() -> None:
    assert parse_helm_version("v3.18.4") == "v3.18.4"
    with pytest.raises(ValueError):
        parse_helm_version("Error: unknown flag: --template")


def test_parse_minikube_version() -> None:
    text = '{"commit":"210b148df93a80eb872ecbeb7e35281b3c582c61","minikubeVersion":"v1.34.0"}'
    assert parse_minikube_version(text) == "v1.34.0"


def test_parse_kind_version() -> None:
    assert parse_kind_version("kind v0.24.0 go1.22.6 linux/amd64\n") == "v0.24.0"
    with pytest.raises(ValueError):
        parse_kind_version("command not found")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("v1.32.4-dispatcher", (1, 32, 4)), ("3.18", (3, 18, 0)), ("junk", None)],
)
def test_version_tuple(text: str, expected: tuple[int, int, int] | None) -> None:
    assert version_tuple(text) == expected


@pytest.mark.parametrize(
    ("client", "ok"),
    [("v1.30.2", True), ("v1.31.13", True), ("v1.32.4-dispatcher", True), ("v1.29.0", False),
     ("v1.33.0", False), ("v2.31.0", False)],
)  # fmt: skip
def test_kubectl_within_one_minor_of_the_cluster(client: str, ok: bool) -> None:
    assert kubectl_ok(client, profile())[0] is ok


@pytest.mark.parametrize(
    ("tool", "version", "ok"),
    [("helm", "v3.7.2", False), ("helm", "v3.8.0", True), ("helm", "v4.0.0", False),
     ("minikube", "v1.33.1", False), ("minikube", "v1.37.0", True),
     ("kind", "v0.23.0", False), ("kind", "v0.24.0", True)],
)  # fmt: skip
def test_acceptable_versions(tool: str, version: str, ok: bool) -> None:
    assert SPECS[tool].acceptable(version, profile())[0] is ok


# --- the real kubectl on this machine ------------------------------------------------------

needs_real_kubectl = pytest.mark.skipif(
    not REAL_KUBECTL.exists(), reason="needs the real kubectl at /usr/bin/kubectl"
)


@needs_real_kubectl
def test_version_of_the_real_kubectl() -> None:
    found = read_version(Shell(), str(REAL_KUBECTL), SPECS["kubectl"])
    assert found == Found(str(REAL_KUBECTL), "v1.32.4-dispatcher")


@needs_real_kubectl
def test_a_compatible_kubectl_on_path_is_reused(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.link("kubectl", REAL_KUBECTL)
    result = world.up(ToolStep(SPECS["kubectl"]))
    assert result.outcome == "skipped"
    assert result.plan is not None
    assert result.plan.reason == (
        f"kubectl v1.32.4-dispatcher at {world.bin}/kubectl "
        "(within one minor version of the cluster's v1.31.0)"
    )
    outputs = world.ctx.state.step("kubectl").outputs
    assert outputs == {"path": f"{world.bin}/kubectl", "version": "v1.32.4-dispatcher"}


@needs_real_kubectl
def test_a_kubectl_too_far_from_the_cluster_is_not_reused(tmp_path: Path) -> None:
    world = make_world(tmp_path, overrides=("provider.kubernetes_version=v1.29.4",))
    world.link("kubectl", REAL_KUBECTL)
    result = world.up(ToolStep(SPECS["kubectl"]), dry_run=True)
    assert result.plan is not None and len(result.plan.actions) == 1
    summary = result.plan.actions[0].summary
    assert summary.startswith(
        f"download kubectl v1.31.13 ({PLATFORM}) from "
        f"https://dl.k8s.io/release/v1.31.13/bin/{PLATFORM}/kubectl"
    )
    assert "not reusing" in summary and "v1.32.4-dispatcher" in summary


# --- the plan as a table -----------------------------------------------------------------


def tfacts(provider: str = "minikube", *found: Found) -> ToolFacts:
    return ToolFacts(provider, "linux/amd64", "/home/u/.local/bin/x", tuple(found), True)


@pytest.mark.parametrize(
    ("tool", "provider", "reason"),
    [
        ("minikube", "kind", "not needed: the cluster provider is kind"),
        ("kind", "minikube", "not needed: the cluster provider is minikube"),
        ("minikube", "existing", "not needed: the cluster provider is existing"),
        ("kind", "existing", "not needed: the cluster provider is existing"),
    ],
)
def test_provider_tools_only_for_their_provider(tool: str, provider: str, reason: str) -> None:
    plan = plan_tool(SPECS[tool], tfacts(provider), profile(), None)
    assert plan.empty and plan.reason == reason


def test_plan_names_the_mirror_url_and_how_it_is_verified() -> None:
    plan = plan_tool(SPECS["helm"], tfacts(), profile(), "http://10.1.2.3:8080")
    assert plan.actions[0].summary == (
        "download helm v3.18.4 (linux/amd64) from "
        "http://10.1.2.3:8080/helm-v3.18.4-linux-amd64.tar.gz, verify it (pinned sha256), "
        "install to /home/u/.local/bin/x"
    )


def test_unpinned_platform_says_it_uses_the_published_checksum() -> None:
    darwin = replace(tfacts(), platform="darwin/arm64")
    plan = plan_tool(SPECS["kubectl"], darwin, profile(), None)
    assert (
        "verify it (sha256 from https://dl.k8s.io/release/v1.31.13/bin/darwin/arm64/kubectl.sha256)"
    ) in plan.actions[0].summary


def test_unreadable_tool_is_named_in_the_plan() -> None:
    broken = Found("/usr/bin/helm", None, "exit 126: cannot execute binary file")
    plan = plan_tool(SPECS["helm"], tfacts("minikube", broken), profile(), None)
    assert "not reusing /usr/bin/helm: exit 126: cannot execute binary file" in (
        plan.actions[0].summary
    )


# --- three ways through a mirror on 127.0.0.1 ------------------------------------------------


def pinned_helm_archive(*, pinned: bool = True) -> tuple[bytes, Release, ToolStep]:
    """A helm release archive of the stand-in helm, the release pinned to it
    (or pinning nothing), and the helm step installing that release."""
    if PLATFORM != "linux/amd64":
        pytest.skip("packs the linux-amd64 archive layout")
    archive = tar_gz({"linux-amd64/helm": (FAKE_BIN / "helm").read_bytes()})
    sums = {PLATFORM: hashlib.sha256(archive).hexdigest()} if pinned else {}
    release = replace(PINNED["helm"], sha256=sums)
    return archive, release, ToolStep(replace(SPECS["helm"], release=release))


def mirror_world(tmp_path: Path, server: FileServer, *overrides: str) -> HostWorld:
    return make_world(tmp_path, overrides=overrides, options=Options(mirror=server.url))


def url_path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


@needs_real_kubectl
@pytest.mark.skipif(PLATFORM != "linux/amd64", reason="serves this machine's linux/amd64 kubectl")
def test_kubectl_three_way_from_the_mirror_then_down(tmp_path: Path) -> None:
    body = REAL_KUBECTL.resolve().read_bytes()
    sha = hashlib.sha256(body).hexdigest()
    release = replace(PINNED["kubectl"], version="v1.32.4", sha256={PLATFORM: sha})
    step = ToolStep(replace(SPECS["kubectl"], release=release))
    with FileServer() as server:
        server.add(url_path(release.file_url(PLATFORM)), body)
        world = mirror_world(tmp_path, server)
        planned, applied, again = world.three_way(step)
    target = world.ctx.paths.bin_dir / "kubectl"
    assert planned.outcome == "planned"
    assert applied.outcome == "done"
    assert again.outcome == "skipped"
    assert target.read_bytes() == body and os.access(target, os.X_OK)
    assert world.ctx.state.step("kubectl").outputs == {
        "path": str(target),
        "version": "v1.32.4-dispatcher",
    }
    assert (world.ctx.paths.cache_root / "downloads" / sha).is_file()
    _down(world, step)
    assert not target.exists()


def test_helm_from_the_mirror_verified_by_the_published_checksum_file(tmp_path: Path) -> None:
    archive, release, step = pinned_helm_archive(pinned=False)  # use the .sha256sum beside it
    sha = hashlib.sha256(archive).hexdigest()
    with FileServer() as server:
        path = url_path(release.file_url("linux/amd64"))
        server.add(path, archive)
        server.add(path + ".sha256sum", f"{sha}  helm-v3.18.4-linux-amd64.tar.gz\n".encode())
        world = mirror_world(tmp_path, server)
        planned, applied, again = world.three_way(step)
        requested = [p for p, _ in server.requests]
    assert planned.plan is not None
    assert f"sha256 from {server.url}{path}.sha256sum" in planned.plan.actions[0].summary
    assert (applied.outcome, again.outcome) == ("done", "skipped")
    assert requested == [path + ".sha256sum", path]
    outputs = world.ctx.state.step("helm").outputs
    assert outputs == {"path": str(world.ctx.paths.bin_dir / "helm"), "version": "v3.17.3"}


def test_an_old_helm_in_the_bin_dir_is_replaced_and_down_puts_it_back(tmp_path: Path) -> None:
    archive, release, step = pinned_helm_archive()
    with FileServer() as server:
        server.add(url_path(release.file_url(PLATFORM)), archive)
        world = mirror_world(tmp_path, server)
        old = world.ctx.paths.bin_dir / "helm"
        old.parent.mkdir(parents=True)
        old_script = "#!/bin/sh\necho v3.7.2\n"
        old.write_text(old_script)
        old.chmod(0o755)
        world.link("sh", shutil.which("sh") or "/bin/sh")
        planned, applied, again = world.three_way(step)
    assert planned.plan is not None
    assert f"not reusing {old} is v3.7.2 (older than v3.8.0)" in planned.plan.actions[0].summary
    assert (applied.outcome, again.outcome) == ("done", "skipped")
    assert [e.kind for e in world.ctx.journal("helm")] == ["file_replaced"]
    _down(world, step)
    assert old.read_text() == old_script


@pytest.mark.parametrize(
    ("tool", "provider", "binary"),
    [("minikube", "minikube", "minikube-linux-amd64"), ("kind", "kind", "kind-linux-amd64")],
)
def test_provider_tool_three_way_from_the_mirror(
    tmp_path: Path, tool: str, provider: str, binary: str
) -> None:
    if PLATFORM != "linux/amd64":
        pytest.skip("serves linux/amd64 names")
    # The published file here is a launcher for the stand-in (which imports
    # a helper module beside it in tests/fakes/bin, so it cannot be copied).
    body = f'#!/bin/sh\nexec "{FAKE_BIN / tool}" "$@"\n'.encode()
    release = replace(PINNED[tool], sha256={PLATFORM: hashlib.sha256(body).hexdigest()})
    step = ToolStep(replace(SPECS[tool], release=release))
    with FileServer() as server:
        path = url_path(release.file_url(PLATFORM))
        assert path.endswith("/" + binary)
        server.add(path, body)
        world = mirror_world(tmp_path, server, f"provider.name={provider}")
        planned, applied, again = world.three_way(step)
    assert (planned.outcome, applied.outcome, again.outcome) == ("planned", "done", "skipped")
    outputs = world.ctx.state.step(tool).outputs
    assert outputs == {"path": str(world.ctx.paths.bin_dir / tool), "version": release.version}


def test_empty_mirror_fails_clearly_leaves_nothing_and_up_resumes(tmp_path: Path) -> None:
    archive, release, step = pinned_helm_archive()
    with FileServer() as server:
        world = mirror_world(tmp_path, server)
        with pytest.raises(DownloadError) as caught:
            world.up(step)
        path = url_path(release.file_url(PLATFORM))
        assert caught.value.message == f"cannot download {server.url}{path}: HTTP 404 Not Found"
        bin_dir = world.ctx.paths.bin_dir
        assert not bin_dir.exists() or list(bin_dir.iterdir()) == []
        assert world.ctx.state.step("helm").status == "failed"
        assert world.ctx.journal("helm") == []
        # the mirror gets the file; the same `up` now finishes
        server.add(path, archive)
        assert world.up(step).outcome == "done"


def _down(world: HostWorld, step: ToolStep) -> None:
    ctx = world.ctx
    ctx.current_step = step.name
    try:
        step.undo(ctx, ctx.journal(step.name))
    finally:
        ctx.current_step = None
