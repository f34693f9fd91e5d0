"""The `helm` stand-in (tests/fakes/bin/helm) against real Helm v3.17.3:
the same flags and the same parse errors (checked with the real binary),
and the release lifecycle of pkg/action (pending, failed, rollback) that
the real one can only show with a cluster."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import time
from importlib.machinery import SourceFileLoader
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.helm import MODEL_CHART, Helm

FAKE = Path(__file__).resolve().parent / "bin" / "helm"
RELEASE = "sciencebox"
CHART = str(MODEL_CHART)
PENDING = "another operation (install/upgrade/rollback) is in progress"


def fake_module() -> ModuleType:
    loader = SourceFileLoader("fake_helm", str(FAKE))
    spec = importlib.util.spec_from_loader("fake_helm", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


class FakeHelm:
    def __init__(self, tmp_path: Path) -> None:
        self.state_dir = tmp_path / "fake-state"

    def env(self) -> dict[str, str]:
        return {**os.environ, "MBOXED_FAKE_STATE": str(self.state_dir)}

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(FAKE), *args], capture_output=True, text=True, env=self.env(), timeout=60
        )

    def ok(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(FAKE), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(),
        )

    def state(self) -> dict[str, Any]:
        return dict(json.loads((self.state_dir / "helm.json").read_text()))

    def add_fault(self, fault: str) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.state_dir / "helm.json"
        state = json.loads(path.read_text()) if path.exists() else {}
        state.setdefault("faults", []).append(fault)
        path.write_text(json.dumps(state))

    def status(self) -> dict[str, Any]:
        return dict(json.loads(self.ok("status", RELEASE, "-o", "json")))

    def history(self) -> list[tuple[int, str, str]]:
        rows = json.loads(self.ok("history", RELEASE, "-o", "json"))
        return [(r["revision"], r["status"], r["description"]) for r in rows]

    def upgrade(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.run("upgrade", "--install", RELEASE, CHART, "--namespace", "default", *extra)

    def wait_for(self, status: str) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                releases = self.state().get("releases") or {}
            except (OSError, ValueError):
                releases = {}
            revisions = releases.get(f"default/{RELEASE}") or []
            if revisions and revisions[-1]["status"] == status:
                return
            time.sleep(0.05)
        raise AssertionError(f"the release never became {status}")


@pytest.fixture
def fake(tmp_path: Path) -> FakeHelm:
    return FakeHelm(tmp_path)


# --- the same flags and parse errors as the real binary ----------------------------------

COMMANDS = ["status", "get values", "list", "upgrade", "uninstall", "rollback", "history"]
HELP_FLAG = re.compile(r"^\s+(?:-(\w), )?--([\w-]+)")


def real_flags(helm: Helm, command: str) -> dict[str, str]:
    """long name -> shorthand, from `helm COMMAND --help` (Flags and Global Flags)."""
    text = helm.run([*command.split(), "--help"]).stdout
    found = {}
    for line in text[text.index("Flags:") :].splitlines():
        match = HELP_FLAG.match(line)
        if match:
            found[match.group(2)] = match.group(1) or ""
    return found


@pytest.mark.parametrize("command", [*COMMANDS, "version"])
def test_the_fake_knows_exactly_the_real_flags(real_helm: Helm, command: str) -> None:
    module = fake_module()
    fake_flags = {**module.GLOBAL_FLAGS, **module.COMMAND_FLAGS[command]}
    assert {name: spec.short for name, spec in fake_flags.items()} == real_flags(real_helm, command)


PARSE_ERRORS = [
    ["status", RELEASE, "--no-such-flag"],
    ["status", RELEASE, "-z"],
    ["status"],
    ["status", RELEASE, "-o", "xml"],
    ["status", RELEASE, "--revision", "abc"],
    ["status", RELEASE, "-o"],
    ["get", "values"],
    ["get", "values", RELEASE, "--all=maybe"],
    ["list", "extra"],
    ["history", "a", "b"],
    ["rollback", RELEASE, "abc"],
    ["uninstall"],
    ["uninstall", RELEASE, "--timeout", "5x"],
    ["uninstall", RELEASE, "--timeout", "5"],
    ["uninstall", RELEASE, "--timeout=1.5.m"],
    ["upgrade", RELEASE],
    ["upgrade", RELEASE, CHART, "--post-renderer", "/no/such/renderer"],
    ["upgrade", RELEASE, CHART, "--wait=maybe"],
    ["upgrade", RELEASE, CHART, "--set"],
    ["version", "extra"],
    ["frobnicate"],
    ["-n", "default", "status"],
]


@pytest.mark.parametrize("argv", PARSE_ERRORS, ids=" ".join)
def test_the_fake_fails_like_the_real_one_before_any_cluster_call(
    real_helm: Helm, fake: FakeHelm, argv: list[str]
) -> None:
    real = real_helm.run(argv, check=False)
    stand_in = fake.run(*argv)
    assert (stand_in.returncode, stand_in.stderr) == (real.returncode, real.stderr)
    assert real.returncode == 1 and real.stderr.startswith("Error: ")


def test_the_fake_reports_the_real_version(real_helm: Helm, fake: FakeHelm) -> None:
    for args in (["version"], ["version", "--short"], ["version", "--template", "{{.Version}}"]):
        assert fake.ok(*args) == real_helm.run(args).stdout


def test_rendering_and_unreproduced_flags_are_refused_not_faked(fake: FakeHelm) -> None:
    for argv in (["template", RELEASE, CHART], ["lint", CHART]):
        done = fake.run(*argv)
        assert done.returncode == 2 and "the tests run the real Helm" in done.stderr
    reuse = fake.upgrade("--reuse-values")
    assert reuse.returncode == 2
    assert "`helm upgrade --reuse-values` is real Helm's, but the fake does not" in reuse.stderr
    assert "releases" not in fake.state() or not fake.state()["releases"]


# --- releases as pkg/action keeps them ----------------------------------------------------


def test_install_then_upgrade_supersedes_and_status_is_helms_release_json(
    fake: FakeHelm,
) -> None:
    first = fake.upgrade()
    assert first.stdout.startswith(f'Release "{RELEASE}" does not exist. Installing it now.\n')
    assert "STATUS: deployed\nREVISION: 1\nTEST SUITE: None\n" in first.stdout
    second = fake.upgrade()
    assert second.stdout.startswith(f'Release "{RELEASE}" has been upgraded. Happy Helming!\n')
    status = fake.status()
    assert list(status) == ["name", "info", "manifest", "hooks", "version", "namespace"]
    assert list(status["info"]) == ["first_deployed", "last_deployed", "deleted", "description",
                                    "status"]  # fmt: skip
    assert (status["version"], status["info"]["status"]) == (2, "deployed")
    assert status["info"]["description"] == "Upgrade complete"
    assert fake.history() == [
        (1, "superseded", "Install complete"),
        (2, "deployed", "Upgrade complete"),
    ]


def test_hooks_are_kept_out_of_the_manifest_and_the_post_renderer(
    fake: FakeHelm, tmp_path: Path
) -> None:
    seen = tmp_path / "seen.yaml"
    renderer = tmp_path / "postrender"
    renderer.write_text(f"#!/bin/sh\ntee {seen}\n")
    renderer.chmod(0o755)
    assert fake.upgrade("--post-renderer", str(renderer)).returncode == 0
    status = fake.status()
    hook_source = "sciencebox/charts/swan/charts/jupyterhub/templates/hook-image-puller.yaml"
    assert "helm.sh/hook" not in seen.read_text() and hook_source not in seen.read_text()
    assert "helm.sh/hook" not in status["manifest"]
    (hook,) = status["hooks"]
    assert (hook["name"], hook["kind"], hook["path"]) == ("hook-image-awaiter", "Job", hook_source)
    assert hook["events"] == ["pre-install", "pre-upgrade"]
    assert hook["weight"] == 10
    assert hook["delete_policies"] == ["before-hook-creation", "hook-succeeded"]
    assert hook["last_run"]["phase"] == "Succeeded"


def test_a_killed_first_install_stays_pending_and_only_uninstall_gets_out(
    fake: FakeHelm,
) -> None:
    fake.add_fault("hang")
    helm = fake.start("upgrade", "--install", RELEASE, CHART)
    fake.wait_for("pending-install")
    helm.send_signal(signal.SIGKILL)
    helm.wait(timeout=10)
    status = fake.status()
    assert status["info"]["status"] == "pending-install"
    assert status["info"]["description"] == "Initial install underway"
    again = fake.upgrade()
    assert (again.returncode, again.stderr) == (1, f"Error: UPGRADE FAILED: {PENDING}\n")
    # `helm list` shows deployed and failed releases unless asked for others
    assert json.loads(fake.ok("list", "-o", "json")) == []
    assert [r["status"] for r in json.loads(fake.ok("list", "--pending", "-o", "json"))] == [
        "pending-install"
    ]
    nothing_before = fake.run("rollback", RELEASE)
    assert nothing_before.stderr == "Error: release has no 0 version\n"
    assert fake.ok("uninstall", RELEASE) == f'release "{RELEASE}" uninstalled\n'
    assert fake.upgrade().returncode == 0 and fake.status()["info"]["status"] == "deployed"


def test_a_killed_upgrade_stays_pending_until_a_rollback(fake: FakeHelm) -> None:
    assert fake.upgrade().returncode == 0
    fake.add_fault("hang")
    helm = fake.start("upgrade", "--install", RELEASE, CHART)
    fake.wait_for("pending-upgrade")
    helm.kill()
    helm.wait(timeout=10)
    assert fake.upgrade().stderr == f"Error: UPGRADE FAILED: {PENDING}\n"
    assert fake.ok("rollback", RELEASE, "1") == "Rollback was a success! Happy Helming!\n"
    # the pending revision stays as it was; the rollback is the last one
    assert fake.history() == [
        (1, "superseded", "Install complete"),
        (2, "pending-upgrade", "Preparing upgrade"),
        (3, "deployed", "Rollback to 1"),
    ]
    assert fake.upgrade().returncode == 0
    assert fake.history()[-2:] == [
        (3, "superseded", "Rollback to 1"),
        (4, "deployed", "Upgrade complete"),
    ]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_an_upgrade_stopped_gently_fails_the_release_instead(
    fake: FakeHelm, stop: signal.Signals
) -> None:
    assert fake.upgrade().returncode == 0
    fake.add_fault("hang")
    helm = fake.start("upgrade", "--install", RELEASE, CHART)
    fake.wait_for("pending-upgrade")
    helm.send_signal(stop)
    out, err = helm.communicate(timeout=10)
    assert helm.returncode == 1
    assert out == f"Release {RELEASE} has been cancelled.\n"
    assert err == "Error: UPGRADE FAILED: context canceled\n"
    assert fake.history()[-1] == (2, "failed", f'Upgrade "{RELEASE}" failed: context canceled')
    # a failed revision does not block: the next upgrade starts from revision 1
    assert fake.upgrade().returncode == 0
    assert [s for _r, s, _d in fake.history()] == ["superseded", "failed", "deployed"]


def test_a_failed_first_install_is_upgraded_from(fake: FakeHelm) -> None:
    failed = subprocess.run(
        [str(FAKE), "upgrade", "--install", RELEASE, CHART],
        capture_output=True,
        text=True,
        env={**fake.env(), "MBOXED_FAKE_HELM_UPGRADE": "fail:timed out waiting for the condition"},
    )
    assert failed.stderr == "Error: INSTALLATION FAILED: timed out waiting for the condition\n"
    assert fake.status()["info"]["description"] == (
        f'Release "{RELEASE}" failed: timed out waiting for the condition'
    )
    assert [r["status"] for r in json.loads(fake.ok("list", "-o", "json"))] == ["failed"]
    # no deployed revision: the upgrade starts from the failed one, which it
    # supersedes (pkg/action/upgrade.go prepareUpgrade, releasingUpgrade)
    assert fake.upgrade().returncode == 0
    assert fake.history() == [
        (1, "superseded", f'Release "{RELEASE}" failed: timed out waiting for the condition'),
        (2, "deployed", "Upgrade complete"),
    ]


def test_an_upgrade_of_no_release_without_install_and_an_unknown_context(
    fake: FakeHelm,
) -> None:
    plain = fake.run("upgrade", RELEASE, CHART)
    assert plain.stderr == f'Error: UPGRADE FAILED: "{RELEASE}" has no deployed releases\n'
    gone = subprocess.run(
        [str(FAKE), "status", RELEASE, "--kube-context", "lab"],
        capture_output=True,
        text=True,
        env={**fake.env(), "MBOXED_FAKE_HELM_UNREACHABLE": "context"},
    )
    assert gone.stderr == 'Error: Kubernetes cluster unreachable: context "lab" does not exist\n'
