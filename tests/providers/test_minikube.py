"""minikube: the argv the provider runs, against the minikube stand-in (its
output parsers: test_minikube_output.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from mboxed.errors import MboxedError
from mboxed.providers import ClusterSpec
from mboxed.providers import minikube as minikube_module
from mboxed.providers.minikube import (
    MinikubeError,
    MinikubeProvider,
    parse_status,
    start_argv,
)
from mboxed.shell import Shell
from tests.providers.world import World, make_world


def test_start_argv_is_what_the_profile_asks() -> None:
    spec = ClusterSpec("minikube", "mboxed-ws", cpus=6, memory_mib=12288, disk_mib=61440)
    assert start_argv("/opt/bin/minikube", spec, force=False) == [
        "/opt/bin/minikube",
        "start",
        "-p",
        "mboxed-ws",
        "--driver=docker",
        "--cpus=6",
        "--memory=12288mb",
        "--disk-size=61440mb",
        "--kubernetes-version=v1.31.0",
        "--wait=apiserver,system_pods,node_ready",
        "--output=json",
    ]
    assert start_argv("minikube", spec, force=True)[-1] == "--force"
    published = start_argv("minikube", spec, force=False, publish=True)
    assert published[-2:] == ["--ports=80:80", "--ports=443:443"]


def test_missing_binary_is_reported_not_run(tmp_path: Path) -> None:
    shell = Shell(env={"PATH": str(tmp_path), "HOME": str(tmp_path)})
    provider = MinikubeProvider(ClusterSpec("minikube", "mboxed"), shell)
    assert provider.tool_missing() == "minikube"


@pytest.mark.skipif(os.geteuid() != 0, reason="the root check applies only to root")
def test_as_root_the_provider_refuses_without_consent(tmp_path: Path) -> None:
    with make_world(tmp_path) as world:
        provider = MinikubeProvider(ClusterSpec("minikube", "mboxed"), world.ctx.shell)
        with pytest.raises(MboxedError) as err:
            provider.ensure(lambda _: None)
        assert "--force" in err.value.hint
        assert not [c for c in world.calls("minikube") if c[1] == "start"]
        agreed = MinikubeProvider(
            ClusterSpec("minikube", "mboxed"), world.ctx.shell, allow_root=True
        )
        assert agreed.ensure(lambda _: None) is True
        assert world.calls("minikube")[-1][-1] == "--force"


def test_fake_status_exit_codes_follow_the_bit_mask(tmp_path: Path) -> None:
    with make_world(tmp_path) as world:
        sh = world.ctx.shell
        assert sh.run(["minikube", "status", "-p", "x", "-o", "json"], check=False).returncode == 85
        sh.run(["minikube", "start", "-p", "x", "--force"])
        assert sh.run(["minikube", "status", "-p", "x", "-o", "json"], check=False).returncode == 0
        sh.run(["minikube", "stop", "-p", "x"])
        stopped = sh.run(["minikube", "status", "-p", "x", "-o", "json"], check=False)
        assert stopped.returncode == 7
        assert parse_status(stopped.stdout, stopped.returncode) is not None


def test_load_image_into_the_profile(tmp_path: Path) -> None:
    with make_world(tmp_path) as world:
        spec = ClusterSpec("minikube", "mboxed")
        provider = MinikubeProvider(spec, world.ctx.shell, allow_root=True)
        provider.ensure(lambda _: None)
        provider.load_image("registry.cern.ch/sciencebox/swan:0.0.1")
        assert world.calls("minikube")[-1] == [
            "minikube", "image", "load", "registry.cern.ch/sciencebox/swan:0.0.1", "-p", "mboxed",
        ]  # fmt: skip
        profile = world.tool_state("minikube")["profiles"]["mboxed"]
        assert profile["images"] == ["registry.cern.ch/sciencebox/swan:0.0.1"]


def docker_down(world: World) -> None:
    state = world.tool_state("minikube")
    state["docker_down"] = True
    (world.fake_state / "minikube.json").write_text(json.dumps(state))


def test_a_failing_status_of_an_existing_profile_is_not_absent(tmp_path: Path) -> None:
    """Otherwise mboxed would journal someone else's profile as its own; and
    the reason (Docker is down) reaches the user, from status and from start."""
    with make_world(tmp_path, env={"MBOXED_FAKE_MINIKUBE_DOCKER_DOWN": "1"}) as world:
        provider = MinikubeProvider(ClusterSpec("minikube", "mboxed"), world.ctx.shell)
        assert provider.status().exists is False  # no profile at all: absent
    with make_world(tmp_path / "again") as world:
        provider = MinikubeProvider(
            ClusterSpec("minikube", "mboxed"), world.ctx.shell, allow_root=True
        )
        provider.ensure(lambda _: None)
        docker_down(world)
        status = provider.status()
        assert (status.exists, status.running, status.state) == (True, False, "Unknown")
        assert "Cannot connect to the Docker daemon" in status.detail
        with pytest.raises(MinikubeError) as err:
            provider.ensure(lambda _: None)
        assert "PROVIDER_DOCKER_NOT_RUNNING" in err.value.message
        assert err.value.hint.startswith("Start the Docker service")


def test_every_call_turns_the_update_check_off(tmp_path: Path) -> None:
    with make_world(tmp_path, env={"MBOXED_FAKE_MINIKUBE_UPDATE": "1"}) as world:
        provider = MinikubeProvider(
            ClusterSpec("minikube", "mboxed"), world.ctx.shell, allow_root=True
        )
        provider.ensure(lambda _: None)
        provider.stop(lambda _: None)
        provider.ensure(lambda _: None)
        provider.ingress_address(None)
        state = world.tool_state("minikube")
        assert len(state["update_env"]) == len(state["calls"]) >= 6
        assert set(state["update_env"]) == {"false"}
        # without it, text output carries the notice (notify.go)
        text = world.ctx.shell.run(["minikube", "status", "-p", "mboxed"], check=False)
        assert "is available!" in text.stdout


def test_a_paused_cluster_is_unpaused_in_every_namespace(tmp_path: Path) -> None:
    """`minikube start` would resume kube-system only (kubeadm StartCluster)."""
    with make_world(tmp_path) as world:
        provider = MinikubeProvider(
            ClusterSpec("minikube", "mboxed"), world.ctx.shell, allow_root=True
        )
        provider.ensure(lambda _: None)
        world.ctx.shell.run(["minikube", "pause", "-A", "-p", "mboxed"])
        status = provider.status()
        assert (status.exists, status.running, status.state) == (True, False, "Paused")
        provider.ensure(lambda _: None)
        assert world.calls("minikube")[-1][1:] == ["unpause", "-A", "-p", "mboxed", "-o", "json"]
        assert world.tool_state("minikube")["profiles"]["mboxed"]["paused"] == []
        assert provider.status().running


@pytest.mark.parametrize(
    "argv",
    [
        ["start", "-p", "x", "--no-such-flag"],
        ["status", "-p", "x", "--light"],
        ["profile", "list", "--format=json"],
        ["addons", "enable", "ingress", "-o", "json"],  # addons enable has no --output
        ["delete", "-p", "x", "--force"],
    ],
)
def test_the_fake_refuses_flags_minikube_1_34_does_not_have(
    tmp_path: Path, argv: list[str]
) -> None:
    with make_world(tmp_path) as world:
        result = world.ctx.shell.run(["minikube", *argv], check=False)
        assert result.returncode == 14 and "unknown" in result.stderr


def test_on_docker_desktop_the_ingress_is_published_on_host_ports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Off Linux the node IP is not routable: --ports publishes the ingress,
    on 8080/8443 when 80/443 are taken, and the profile remembers them."""
    monkeypatch.setattr(minikube_module, "sys", SimpleNamespace(platform="darwin"))
    with make_world(tmp_path) as world:
        spec = ClusterSpec("minikube", "mboxed")
        taken = {80, 443}
        provider = MinikubeProvider(
            spec, world.ctx.shell, allow_root=True, is_free=lambda p: p not in taken
        )
        provider.ensure(lambda _: None)
        start = next(c for c in world.calls("minikube") if c[1] == "start")
        assert "--ports=8080:80" in start and "--ports=8443:443" in start
        assert provider.ingress_address(None) == "127.0.0.1"
        assert provider.https_port() == 8443
        # a provider that was not told the ports (a run that lost its
        # outputs) learns them from the profile
        fresh = MinikubeProvider(spec, world.ctx.shell, allow_root=True)
        assert fresh.https_port() == 8443
