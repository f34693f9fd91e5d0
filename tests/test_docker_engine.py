"""The Docker engine as the SDK sees it: the endpoint, dockerd's command line,
and a probe of a socket that is not there (starting a real dockerd is the
docker step's test, tests/steps/test_docker.py)."""

from __future__ import annotations

from pathlib import Path

from mboxed.docker_engine import docker_endpoint, dockerd_argv, probe_docker
from mboxed.shell import Shell


def test_dockerd_listens_where_docker_host_points() -> None:
    assert dockerd_argv({}) == ["dockerd"]
    assert dockerd_argv({"DOCKER_HOST": "unix:///var/run/docker.sock"}) == ["dockerd"]
    assert dockerd_argv({"DOCKER_HOST": "unix:///tmp/d.sock"}) == [
        "dockerd",
        "-H",
        "unix:///tmp/d.sock",
    ]


def test_endpoint_prefers_docker_host_then_existing_sockets(tmp_path: Path) -> None:
    assert docker_endpoint({"DOCKER_HOST": "tcp://1.2.3.4:2375"}) == "tcp://1.2.3.4:2375"
    colima = tmp_path / ".colima" / "default" / "docker.sock"
    colima.parent.mkdir(parents=True)
    colima.touch()
    found = docker_endpoint({}, home=tmp_path)
    assert found in ("unix:///var/run/docker.sock", f"unix://{colima}")
    if not Path("/var/run/docker.sock").exists():
        assert found == f"unix://{colima}"


def test_probe_of_a_missing_socket_says_so(tmp_path: Path) -> None:
    shell = Shell(env={"DOCKER_HOST": f"unix://{tmp_path}/nothing.sock", "PATH": ""})
    probe = probe_docker(shell, timeout=2)
    assert not probe.reachable
    assert probe.error == "no Docker socket"
    assert probe.summary == "no Docker socket"
