"""The cluster commands end to end, as a user runs them: `mboxed plan` per
provider, then up → status → stop → status → start → down against the
minikube stand-in and the Kubernetes API stand-in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.kube_api import KubeAPIServer
from tests.providers.world import FAKE_BIN, KIND_DOCKER

REPO = Path(__file__).resolve().parent.parent.parent


def mboxed(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mboxed", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A user's environment without minikube or kind installed."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MBOXED_FAKE")}
    base.update(
        HOME=str(tmp_path / "home"),
        MBOXED_HOME=str(tmp_path / "mboxed-home"),
        KUBECONFIG=str(tmp_path / "kube" / "config"),
        MBOXED_OFFLINE="1",
        MBOXED_HOSTS_FILE=str(tmp_path / "hosts"),
    )
    (tmp_path / "hosts").write_text("127.0.0.1 localhost\n")
    yield base


@pytest.mark.parametrize(
    ("provider", "first"),
    [
        ("minikube", "create minikube cluster 'mboxed' (docker driver, 4 CPUs"),
        ("kind", "create kind cluster 'mboxed' from kindest/node:v1.31.0@sha256:"),
    ],
)
def test_plan_names_the_providers_actions(env: dict[str, str], provider: str, first: str) -> None:
    result = mboxed(
        env, "plan", "--profile", "demo", "--set", f"provider.name={provider}",
        "--only", "cluster", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    [step] = json.loads(result.stdout)["steps"]
    assert step["outcome"] == "planned"
    assert step["actions"][0].startswith(first)
    assert "ingress" in step["actions"][1]


def test_existing_with_a_missing_context_fails_naming_it(env: dict[str, str]) -> None:
    result = mboxed(
        env, "plan", "--profile", "demo", "--set", "provider.name=existing",
        "--set", "provider.context=no-such-context",
    )  # fmt: skip
    assert result.returncode == 1
    assert "error: provider.context 'no-such-context': no such context" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_provider_fails_cleanly(env: dict[str, str]) -> None:
    result = mboxed(env, "plan", "--profile", "demo", "--set", "provider.name=k3d")
    assert result.returncode == 1
    assert "provider.name" in result.stderr and "'minikube', 'kind' or 'existing'" in result.stderr
    assert "Traceback" not in result.stderr


def test_up_status_stop_start_down(env: dict[str, str], tmp_path: Path) -> None:
    with KubeAPIServer(controllers=True) as api:
        env = {
            **env,
            "PATH": os.pathsep.join(
                [str(FAKE_BIN), str(KIND_DOCKER), str(Path(sys.executable).parent), env["PATH"]]
            ),
            "MBOXED_FAKE_STATE": str(tmp_path / "fake"),
            "MBOXED_FAKE_KUBE_API": api.url,
        }
        up = mboxed(env, "up", "--profile", "demo", "--only", "cluster", "--yes")
        assert up.returncode == 0, up.stderr + up.stdout
        status = json.loads(mboxed(env, "status", "--json").stdout)
        assert status["cluster"]["state"] == "Running"
        assert status["cluster"]["created_by_mboxed"] is True
        assert status["urls"]["landing"] == "https://mboxed.test/sciencebox"
        assert status["drift"] == []

        stop = mboxed(env, "stop")
        assert stop.returncode == 0, stop.stderr
        assert "its data is kept" in stop.stdout
        status = json.loads(mboxed(env, "status", "--json").stdout)
        assert status["cluster"]["state"] == "Stopped"
        text = mboxed(env, "status").stdout
        assert "cluster: minikube mboxed (context mboxed, created by mboxed): Stopped" in text

        start = mboxed(env, "start", "--only", "cluster", "--yes")
        assert start.returncode == 0, start.stderr + start.stdout
        status = json.loads(mboxed(env, "status", "--json").stdout)
        assert status["cluster"]["state"] == "Running"

        drifted = mboxed(env, "status", "--json", "--name", "default")
        assert json.loads(drifted.stdout)["drift"] == []

        down = mboxed(env, "down", "--yes")
        assert down.returncode == 0, down.stderr
        calls = json.loads((tmp_path / "fake" / "minikube.json").read_text())["calls"]
        assert [c[1:] for c in calls if c[1] == "delete"] == [["delete", "-p", "mboxed"]]
        assert "mboxed.test" not in Path(env["MBOXED_HOSTS_FILE"]).read_text()
        assert mboxed(env, "stop").returncode == 1  # nothing left to stop


@pytest.mark.parametrize("provider", ["minikube", "kind"])
def test_full_plan_exits_0_and_names_the_providers_actions(
    env: dict[str, str], provider: str
) -> None:
    """The issue's done-when, literally: the whole pipeline's plan."""
    result = mboxed(env, "plan", "--profile", "demo", "--set", f"provider.name={provider}")
    assert result.returncode == 0, result.stderr
    assert f"create {provider} cluster 'mboxed'" in result.stdout
