"""`mboxed doctor`, `plan` and `up --only helm` as a user meets them: a real
`python -m mboxed` process; downloads only ever from a mirror on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.run import mboxed as run_mboxed
from tests.cli.run import tree
from tests.file_server import FileServer


def mboxed(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_mboxed(*args, env={"CI": "1", **(env or {})})


@pytest.fixture
def mirror() -> Iterator[FileServer]:
    with FileServer() as server:
        yield server


def test_doctor_json_is_a_list_of_coded_checks(mirror: FileServer) -> None:
    home = Path(os.environ["MBOXED_HOME"])
    before = tree(home)
    result = mboxed("doctor", "--profile", "demo", "--json", env={"MBOXED_MIRROR": mirror.url})
    checks = json.loads(result.stdout)
    assert isinstance(checks, list)
    for check in checks:
        assert set(check) == {"id", "title", "status", "value", "need", "fix"}
        assert check["status"] in ("ok", "warn", "fail")
    ids = [c["id"] for c in checks]
    assert len(ids) == len(set(ids))
    for wanted in ("memory", "disk", "cpu", "docker-running", "docker-access", "port-443"):
        assert wanted in ids
    failed = any(c["status"] == "fail" for c in checks)
    assert result.returncode == (1 if failed else 0)
    assert result.stderr == ""
    network = next(c for c in checks if c["id"] == "network")
    assert network["status"] == "ok" and mirror.url.split("//")[1] in network["need"]
    assert tree(home) == before  # doctor changes nothing


def test_doctor_for_people_lists_marks_and_fixes(mirror: FileServer) -> None:
    result = mboxed("doctor", "--profile", "ci", "--mirror", mirror.url)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("mboxed doctor: profile ci, linux/")
    assert any(line.lstrip().startswith(("✓ memory", "! memory", "✗ memory")) for line in lines)
    assert "ok," in lines[-1] and "warning(s)" in lines[-1] and "failed" in lines[-1]


def test_doctor_rejects_a_mirror_that_is_not_a_url() -> None:
    result = mboxed("doctor", "--mirror", "ftp://files.example")
    assert result.returncode == 1
    assert result.stderr.startswith(
        "error: --mirror / MBOXED_MIRROR 'ftp://files.example' is not a base URL"
    )
    assert "Traceback" not in result.stderr


def test_plan_names_the_host_steps() -> None:
    result = mboxed("plan", "--profile", "demo")
    assert result.returncode == 0, result.stderr
    named = [line.split()[1].rstrip(":") for line in result.stdout.splitlines()[1:]
             if line.startswith("  ") and line.split()[0] in ("•", "↷", "✗")]  # fmt: skip
    for step in ("preflight", "packages", "docker", "kubectl", "helm", "minikube", "kind"):
        assert step in named


def _up_helm(*extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return mboxed("up", "--only", "helm", "--yes", *extra, env=env)


def _assert_clean_failure(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1
    home = Path(os.environ["MBOXED_HOME"])
    assert not (home / "bin" / "helm").exists()
    downloads = home / "cache" / "downloads"
    assert not downloads.exists() or list(downloads.iterdir()) == []
    return errors


def test_up_helm_from_an_empty_mirror_fails_with_one_line(mirror: FileServer) -> None:
    result = _up_helm("--mirror", mirror.url)
    (error,) = _assert_clean_failure(result)
    assert error.startswith(f"error: cannot download {mirror.url}/helm-v3.18.4-linux-")
    assert error.endswith(".tar.gz: HTTP 404 Not Found")
    assert f"hint: check that the mirror {mirror.url} is up" in result.stderr


def test_up_helm_from_a_mirror_that_is_down_fails_within_seconds() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    result = _up_helm(env={"MBOXED_MIRROR": f"http://127.0.0.1:{port}"})
    assert time.monotonic() - started < 30
    (error,) = _assert_clean_failure(result)
    assert "connection refused" in error


def test_up_helm_refuses_a_file_that_does_not_match_the_pinned_sum(mirror: FileServer) -> None:
    """The real pinned sha256 of helm v3.18.4 stands between a mirror and PATH."""
    if not sys.platform.startswith("linux") or os.uname().machine not in ("x86_64", "aarch64"):
        pytest.skip("names the linux archive")
    arch = "amd64" if os.uname().machine == "x86_64" else "arm64"
    mirror.add(f"/helm-v3.18.4-linux-{arch}.tar.gz", b"a tampered or truncated archive")
    result = _up_helm("--mirror", mirror.url)
    (error,) = _assert_clean_failure(result)
    assert "checksum mismatch" in error
    assert "the file was not installed" in result.stderr
