"""Pod JSON in, diagnosis out: tables over the recorded pods of
tests/fakes/k8s and variations of them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mboxed.sciencebox.diagnose import Diagnosis, diagnose_pod, pod_ready, scheduler_hint
from tests.fakes.kube_api import load_object


def pod(name: str, **changes: Any) -> dict[str, Any]:
    obj = copy.deepcopy(load_object(name))
    for path, value in changes.items():
        node = obj
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return obj


def test_a_running_ready_pod_needs_no_diagnosis() -> None:
    assert diagnose_pod(load_object("pod-running.json")) is None


def test_a_completed_job_pod_counts_as_ready() -> None:
    done = pod("pod-running.json", status__phase="Succeeded", status__conditions=[])
    assert pod_ready(done) and diagnose_pod(done) is None


def test_image_pull_backoff_names_the_image() -> None:
    found = diagnose_pod(load_object("pod-imagepullbackoff.json"))
    assert found is not None
    assert found.reason == "ImagePullBackOff"
    assert "registry.cern.ch/sciencebox/cernbox-web:does-not-exist" in found.detail
    assert "container cernbox" in found.detail
    assert "registry" in found.hint


def test_crash_loop_names_container_restarts_exit_code_and_wants_logs() -> None:
    found = diagnose_pod(load_object("pod-crashloopbackoff.json"))
    assert found is not None
    assert (found.reason, found.container) == ("CrashLoopBackOff", "swan")
    assert "restarted 7 times" in found.detail and "exit code 1" in found.detail
    rendered = found.with_logs("line 1\nline 2\nFATAL: cannot reach LDAP\n").render()
    assert "last log lines of swan" in rendered
    assert "    FATAL: cannot reach LDAP" in rendered


def test_pending_gives_the_schedulers_reason_and_says_raise_memory() -> None:
    found = diagnose_pod(load_object("pod-pending-unschedulable.json"), memory="8g", cpus=4)
    assert found is not None
    assert found.reason == "Pending"
    assert "0/1 nodes are available: 1 Insufficient memory" in found.detail
    assert "raise provider.memory (now 8g)" in found.hint


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("0/1 nodes are available: 1 Insufficient memory.", "provider.memory"),
        ("0/1 nodes are available: 1 Insufficient cpu.", "provider.cpus (now 4)"),
        (
            "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory.",
            "provider.cpus",
        ),
        (
            "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims.",
            "StorageClass",
        ),
        (
            "0/1 nodes are available: 1 node(s) had untolerated taint "
            "{node.kubernetes.io/not-ready: }.",
            "tainted",
        ),
        (
            "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.",
            "nodeSelector",
        ),
        ("something new", ""),
    ],
)
def test_scheduler_hints_table(message: str, expected: str) -> None:
    hint = scheduler_hint(message, "8g", 4)
    if expected:
        assert expected in hint
    else:
        assert hint == ""


def _waiting(reason: str, message: str = "") -> dict[str, Any]:
    base = load_object("pod-imagepullbackoff.json")
    status = base["status"]["containerStatuses"][0]
    status["state"] = {"waiting": {"reason": reason, "message": message}}
    return base


@pytest.mark.parametrize(
    ("obj", "reason", "words"),
    [
        (_waiting("ErrImagePull", "rpc error: not found"), "ErrImagePull", "cannot pull image"),
        (_waiting("InvalidImageName"), "InvalidImageName", "cernbox-web:does-not-exist"),
        (
            _waiting("CreateContainerConfigError", 'secret "sciencebox-tls" not found'),
            "CreateContainerConfigError",
            'secret "sciencebox-tls" not found',
        ),
        (_waiting("ContainerCreating"), "Pending", "scheduled but not started yet"),
    ],
)
def test_waiting_reasons_table(obj: dict[str, Any], reason: str, words: str) -> None:
    obj["status"]["phase"] = "Pending" if reason == "Pending" else obj["status"]["phase"]
    found = diagnose_pod(obj)
    assert found is not None
    assert found.reason == reason
    assert words in found.detail


def test_oom_killed_crash_says_raise_memory() -> None:
    obj = load_object("pod-crashloopbackoff.json")
    obj["status"]["containerStatuses"][0]["lastState"]["terminated"]["reason"] = "OOMKilled"
    found = diagnose_pod(obj, memory="4g")
    assert found is not None and "OOMKilled" in found.detail
    assert "raise provider.memory (now 4g)" in found.hint


def test_running_but_failing_readiness_probe() -> None:
    obj = load_object("pod-running.json")
    obj["status"]["conditions"] = [
        {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}
    ]
    obj["status"]["containerStatuses"][0]["ready"] = False
    found = diagnose_pod(obj)
    assert found is not None
    assert found == Diagnosis(
        "coredns-6f6b679f8f-x7k2p",
        "NotReady",
        "Running, but not ready: containers coredns fail their readiness probe",
        found.hint,
        "coredns",
    )
