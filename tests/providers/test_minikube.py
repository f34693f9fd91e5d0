"""minikube: pure parsers on captured output, and the argv the provider runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mboxed.errors import MboxedError
from mboxed.providers import ClusterSpec
from mboxed.providers.minikube import (
    MinikubeProvider,
    parse_profile_list,
    parse_status,
    start_argv,
)
from mboxed.shell import Shell
from tests.providers.world import make_world

# `minikube status -o json` of a running single-node cluster, as minikube
# v1.3x prints it (cmd/minikube/cmd/status.go statusJSON, one line, no newline).
RUNNING = (
    '{"Name":"minikube","Host":"Running","Kubelet":"Running","APIServer":"Running",'
    '"Kubeconfig":"Configured","Worker":false}'
)
# After `minikube stop`: everything Stopped, exit 7 (1|2|4).
STOPPED = (
    '{"Name":"mboxed","Host":"Stopped","Kubelet":"Stopped","APIServer":"Stopped",'
    '"Kubeconfig":"Stopped","Worker":false}'
)
# Multi-node: a JSON list, the control plane first (statusJSON marshals []*Status).
MULTI = (
    '[{"Name":"mboxed","Host":"Running","Kubelet":"Running","APIServer":"Running",'
    '"Kubeconfig":"Configured","Worker":false},{"Name":"mboxed-m02","Host":"Running",'
    '"Kubelet":"Running","APIServer":"Irrelevant","Kubeconfig":"Irrelevant","Worker":true}]'
)
# A profile that does not exist: mustload.Partial's message, exit 85.
MISSING = (
    '🤷  There is no local cluster named "mboxed"\n'
    '👉  To fix this, run: "minikube start -p mboxed"\n'
)
# `minikube profile list -o json` (profile_list.go printProfilesJSON; field
# names of pkg/minikube/config/types.go; Memory/DiskSize in MB).
PROFILE_LIST = json.dumps(
    {
        "invalid": [],
        "valid": [
            {
                "Name": "mboxed",
                "Status": "Running",
                "Config": {
                    "Name": "mboxed",
                    "KeepContext": False,
                    "EmbedCerts": False,
                    "KicBaseImage": "gcr.io/k8s-minikube/kicbase:v0.0.45",
                    "Memory": 8192,
                    "CPUs": 4,
                    "DiskSize": 40960,
                    "Driver": "docker",
                    "KubernetesConfig": {
                        "KubernetesVersion": "v1.31.0",
                        "ClusterName": "mboxed",
                        "ContainerRuntime": "docker",
                    },
                    "Nodes": [
                        {
                            "Name": "",
                            "IP": "192.168.49.2",
                            "Port": 8443,
                            "KubernetesVersion": "v1.31.0",
                            "ContainerRuntime": "docker",
                            "ControlPlane": True,
                            "Worker": True,
                        }
                    ],
                    "Addons": {"ingress": True, "storage-provisioner": True},
                },
                "Active": False,
            }
        ],
    }
)


def test_status_running_stopped_missing_and_multinode() -> None:
    running = parse_status(RUNNING, 0)
    assert running is not None and running.running
    stopped = parse_status(STOPPED, 7)
    assert stopped is not None and not stopped.running and stopped.host == "Stopped"
    assert parse_status(MISSING, 85) is None
    multi = parse_status(MULTI, 0)
    assert multi is not None and multi.name == "mboxed" and multi.running
    # kubelet down while the host runs: exit bit 2, not running
    half = parse_status(RUNNING.replace('"Kubelet":"Running"', '"Kubelet":"Stopped"'), 2)
    assert half is not None and not half.running


def test_profile_list() -> None:
    [profile] = parse_profile_list(PROFILE_LIST)
    assert (profile.name, profile.cpus, profile.memory_mib, profile.disk_mib) == (
        "mboxed",
        4,
        8192,
        40960,
    )
    assert profile.kubernetes_version == "v1.31.0"
    assert profile.ip == "192.168.49.2"
    assert profile.addons["ingress"] is True
    assert parse_profile_list('{"invalid":[],"valid":[]}') == []


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


def test_a_failing_status_of_an_existing_profile_is_not_absent(tmp_path: Path) -> None:
    """Otherwise mboxed would journal someone else's profile as its own."""
    with make_world(tmp_path, env={"MBOXED_FAKE_MINIKUBE_DOCKER_DOWN": "1"}) as world:
        provider = MinikubeProvider(ClusterSpec("minikube", "mboxed"), world.ctx.shell)
        assert provider.status().exists is False  # no profile at all: absent
        world.ctx.shell.run(["minikube", "start", "-p", "mboxed", "--force"])
        status = provider.status()
        assert (status.exists, status.running) == (True, False)
        assert "Docker daemon" in status.detail
