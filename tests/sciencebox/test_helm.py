"""The helm client against the `helm` stand-in (tests/fakes/bin/helm), and
its reading of helm's failures (texts from helm v3.19.5, see helm.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from mboxed.errors import TransientError
from mboxed.sciencebox.helm import (
    ClusterUnreachable,
    Helm,
    HelmError,
    KubeContextMissing,
    ReleaseNotFound,
    ReleasePending,
)
from mboxed.shell import Shell
from tests.helm import Helm as RealHelm
from tests.sciencebox.registry import chart_tgz

FAKE_BIN = Path(__file__).resolve().parent.parent / "fakes" / "bin"
JOB = {"sciencebox/templates/job.yaml": "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\n"}


def fake_helm(tmp_path: Path) -> Helm:
    path = os.pathsep.join([str(FAKE_BIN), str(Path(sys.executable).parent), os.environ["PATH"]])
    shell = Shell(env={**os.environ, "PATH": path, "MBOXED_FAKE_STATE": str(tmp_path / "fake")})
    return Helm(shell, "default", context="mboxed-default", kubeconfig=str(tmp_path / "kc"))


def test_install_read_back_and_uninstall(tmp_path: Path) -> None:
    helm = fake_helm(tmp_path)
    chart = tmp_path / "sciencebox-0.0.8.tgz"
    chart.write_bytes(chart_tgz("sciencebox", "0.0.8", JOB))
    values = tmp_path / "values.json"
    values.write_text('{"a": {"b": 1}}')
    assert helm.status("sb") is None
    assert helm.chart("sb") == ""

    helm.upgrade_install("sb", str(chart), [str(values)])
    status = helm.status("sb")
    assert status is not None and status["version"] == 1
    assert status["info"]["status"] == "deployed"
    assert "# Source: sciencebox/templates/job.yaml" in status["manifest"]
    assert helm.get_values("sb") == {"a": {"b": 1}}
    assert helm.chart("sb") == "sciencebox-0.0.8"
    assert [r["name"] for r in helm.releases()] == ["sb"]
    assert helm.argv("status", "sb") == [
        "helm", "status", "sb", "--namespace", "default",
        "--kube-context", "mboxed-default", "--kubeconfig", str(tmp_path / "kc"),
    ]  # fmt: skip

    assert helm.uninstall("sb") is True
    assert helm.uninstall("sb") is False  # gone already: not an error
    with pytest.raises(ReleaseNotFound):
        helm.get_values("sb")


def test_template_renders_without_a_release(tmp_path: Path, real_helm: RealHelm) -> None:
    helm = Helm(Shell(env=real_helm.env()), "default", binary=str(real_helm.path))
    chart = tmp_path / "sciencebox-0.0.8.tgz"
    chart.write_bytes(chart_tgz("sciencebox", "0.0.8", JOB))
    renderer = tmp_path / "renderer"
    renderer.write_text(f"#!{sys.executable}\nimport sys\nprint(sys.stdin.read().upper())\n")
    renderer.chmod(0o700)
    manifest = helm.template("sb", str(chart), [], str(renderer))
    assert "KIND: JOB" in manifest  # post-rendered


def stub_helm(tmp_path: Path, stderr: str) -> Helm:
    """A helm that fails with `stderr`, as helm does: cobra's "Error: ...", exit 1."""
    stub = tmp_path / "helm"
    stub.write_text(f"#!{sys.executable}\nimport sys\nsys.stderr.write({stderr!r})\nsys.exit(1)\n")
    stub.chmod(0o700)
    return Helm(Shell(), "default", binary=str(stub))


@pytest.mark.parametrize(
    ("stderr", "error"),
    [
        (
            'Error: Kubernetes cluster unreachable: Get "https://127.0.0.1:6443/version": '
            "dial tcp 127.0.0.1:6443: connect: connection refused\n",
            ClusterUnreachable,
        ),
        (
            'Error: Kubernetes cluster unreachable: context "mboxed-gone" does not exist\n',
            KubeContextMissing,
        ),
        (
            "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress\n",
            ReleasePending,
        ),
        ("Error: UPGRADE FAILED: resource mapping not found\n", HelmError),
    ],
)
def test_failures_are_told_apart(tmp_path: Path, stderr: str, error: type[HelmError]) -> None:
    helm = stub_helm(tmp_path, stderr)
    with pytest.raises(HelmError) as caught:
        helm.upgrade_install("sb", "chart.tgz", ["values.json"])
    assert type(caught.value) is error
    # only a cluster that does not answer is worth a retry
    assert isinstance(caught.value, TransientError) == (error is ClusterUnreachable)
    assert stderr.strip() in caught.value.message
    assert bool(caught.value.hint) == (error is not HelmError)


def test_not_found_is_an_answer_for_status_and_uninstall(tmp_path: Path) -> None:
    helm = stub_helm(tmp_path, "Error: uninstall: Release not loaded: sb: release: not found\n")
    assert helm.status("sb") is None
    assert helm.uninstall("sb") is False


def test_a_failure_never_shows_a_registered_secret(tmp_path: Path) -> None:
    helm = stub_helm(tmp_path, "Error: values don't meet the schema: s3cret-token\n")
    helm.shell.add_secret("s3cret-token")
    with pytest.raises(HelmError) as caught:
        helm.status("sb")
    assert "s3cret-token" not in caught.value.message
