"""minikube's output, parsed: captured -o json events, status and profile list."""

from __future__ import annotations

import json

from mboxed.providers.minikube_output import (
    MinikubeError,
    minikube_error,
    parse_profile_list,
    parse_status,
    published_host_ports,
)

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
# After `minikube pause`: the kubelet disabled, the apiserver's containers
# frozen (cluster/pause.go, kverify.APIServerStatus), exit 2.
PAUSED = (
    '{"Name":"mboxed","Host":"Running","Kubelet":"Stopped","APIServer":"Paused",'
    '"Kubeconfig":"Configured","Worker":false}'
)


def event(kind: str, data: dict[str, str]) -> str:
    """One CloudEvent line as minikube -o json prints it
    (pkg/minikube/out/register/cloud_events.go, json_test.go)."""
    return json.dumps(
        {
            "data": data,
            "datacontenttype": "application/json",
            "id": "0c2e9a5e-5a8f-4a43-9d7e-3b7f0d4b8d11",
            "source": "https://minikube.sigs.k8s.io/",
            "specversion": "1.0",
            "type": f"io.k8s.sigs.minikube.{kind}",
        }
    )


# A profile that does not exist, -o json: mustload.Partial's two Styled
# lines as info events, exit 85.
NOT_FOUND = 'Profile "mboxed" not found. Run "minikube profile list" to view all profiles.'
MISSING = (
    event("info", {"message": NOT_FOUND})
    + "\n"
    + event("info", {"message": 'To start a cluster, run: "minikube start -p mboxed"'})
    + "\n"
)  # fmt: skip
# `minikube start -o json` with the Docker daemon down: steps, then the error
# (out/out_reason.go Error: name, advice, url, issues, exitcode), exit 63.
DOCKER_DOWN_START = "\n".join(
    [
        event("step", {"currentstep": "0", "message": "[mboxed] minikube v1.34.0 on Darwin 14.5",
                       "name": "Initial Minikube Setup", "totalsteps": "19"}),
        event("error", {
            "advice": "Start the Docker service",
            "exitcode": "63",
            "issues": "",
            "message": '"docker version --format {{.Server.Os}}-{{.Server.Version}}:'
            '{{.Server.Platform.Name}}" exit status 1: Cannot connect to the Docker daemon at '
            "unix:///var/run/docker.sock. Is the docker daemon running?",
            "name": "PROVIDER_DOCKER_NOT_RUNNING",
            "url": "https://minikube.sigs.k8s.io/docs/drivers/docker/",
        }),
    ]
)  # fmt: skip
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
    paused = parse_status(PAUSED, 2)
    assert paused is not None and paused.paused and not paused.running


def test_status_among_other_json_lines() -> None:
    """-o json output is JSON lines: warnings or info events before the
    status object (which has no newline), even right after it."""
    warning = event("warning", {"message": "Your cgroup does not allow setting memory."})
    for stdout in (warning + "\n" + RUNNING, RUNNING + warning + "\n", "🎉  notice\n" + RUNNING):
        parsed = parse_status(stdout, 0)
        assert parsed is not None and parsed.running, stdout


def test_error_events_become_the_users_message() -> None:
    error = minikube_error(DOCKER_DOWN_START)
    assert isinstance(error, MinikubeError)
    assert "Cannot connect to the Docker daemon" in error.message
    assert "PROVIDER_DOCKER_NOT_RUNNING" in error.message and "exit 63" in error.message
    assert error.hint.startswith("Start the Docker service")
    assert minikube_error(MISSING) is None  # info events are not errors
    assert parse_status(DOCKER_DOWN_START, 63) is None


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
    assert published_host_ports(profile.exposed_ports) is None
    assert published_host_ports(("8080:80", "127.0.0.1:8443:443/tcp")) == (8080, 8443)
