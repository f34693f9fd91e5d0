"""The Docker engine as the SDK sees it: the endpoint, dockerd's command line,
and a probe of a socket that is not there (starting a real dockerd is the
docker step's test, tests/steps/test_docker.py)."""

from __future__ import annotations

import http.server
import json
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mboxed.docker_engine import (
    DEFAULT_SOCKET,
    colima_start_argv,
    daemon_hosts,
    daemons_serving,
    docker_endpoint,
    dockerd_argv,
    probe_docker,
)
from mboxed.shell import Shell

# The parts of GET /info and /version a colima VM of 2 CPUs and 2 GiB answers
# (Docker Engine API: SystemInfo.NCPU, MemTotal in bytes; the VM's, not the Mac's).
COLIMA_INFO = {
    "NCPU": 2,
    "MemTotal": 2_061_000_704,
    "ServerVersion": "27.3.1",
    "Driver": "overlay2",
    "CgroupDriver": "cgroupfs",
    "CgroupVersion": "2",
    "DockerRootDir": "/var/lib/docker",
}


class _EngineAPI(http.server.BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def address_string(self) -> str:
        return "unix"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path.endswith("/_ping"):
            body, kind = b"OK", "text/plain"
        elif path.endswith("/info"):
            body, kind = json.dumps(COLIMA_INFO).encode(), "application/json"
        elif path.endswith("/version"):
            body, kind = (
                json.dumps({"Version": "27.3.1", "ApiVersion": "1.47"}).encode(),
                "application/json",
            )
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@contextmanager
def engine_api(sock: Path) -> Iterator[str]:
    """A Docker Engine API stand-in on a unix socket of the test's own."""
    server = _UnixServer(str(sock), _EngineAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"unix://{sock}"
    finally:
        server.shutdown()
        server.server_close()


def test_dockerd_listens_where_docker_host_points() -> None:
    assert dockerd_argv({}) == ["dockerd"]
    assert dockerd_argv({"DOCKER_HOST": "unix:///var/run/docker.sock"}) == ["dockerd"]
    assert dockerd_argv({"DOCKER_HOST": "unix:///tmp/d.sock"}) == [
        "dockerd",
        "-H",
        "unix:///tmp/d.sock",
    ]


@pytest.mark.parametrize(
    ("argv", "hosts"),
    [
        (["dockerd"], [DEFAULT_SOCKET]),
        (["dockerd", "--data-root", "/x"], [DEFAULT_SOCKET]),
        (["dockerd", "-H", "unix:///tmp/a.sock"], ["unix:///tmp/a.sock"]),
        (["dockerd", "--host=unix:///tmp/a.sock"], ["unix:///tmp/a.sock"]),
        (["dockerd", "-Htcp://127.0.0.1:2375"], ["tcp://127.0.0.1:2375"]),
        (
            ["dockerd", "--host", "unix:///var/run/docker.sock", "-H", "tcp://127.0.0.1:2375"],
            [DEFAULT_SOCKET, "tcp://127.0.0.1:2375"],
        ),
    ],
)
def test_the_endpoints_a_dockerd_command_line_listens_on(argv: list[str], hosts: list[str]) -> None:
    assert daemon_hosts(argv) == hosts


def test_a_dockerd_on_a_socket_of_its_own_is_not_the_engine_probed(tmp_path: Path) -> None:
    """A private engine (a CI job's, rootless Docker's) is not the system one:
    probing the system socket must not report it as a dockerd that hangs."""
    # a process whose command name is dockerd (a script's comm is its file name)
    fake = tmp_path / "dockerd"
    fake.write_text("#!/bin/sh\nsleep 60 &\nwait\n")
    fake.chmod(0o755)
    private = f"unix://{tmp_path}/private.sock"
    proc = subprocess.Popen([str(fake), "--host", private])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.pid not in daemons_serving(private):
            time.sleep(0.05)
        assert proc.pid in daemons_serving(private)
        assert proc.pid not in daemons_serving(DEFAULT_SOCKET)
        probe = probe_docker(Shell(env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"}))
        assert proc.pid not in probe.daemon_pids
    finally:
        proc.kill()
        proc.wait()


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


def test_probe_reads_what_the_engine_can_give_containers(tmp_path: Path) -> None:
    """On a Mac the engine runs in a VM: its CPUs and memory are the VM's."""
    with engine_api(tmp_path / "docker.sock") as url:
        probe = probe_docker(Shell(env={"DOCKER_HOST": url, "PATH": ""}), timeout=5)
    assert probe.reachable, probe.error
    assert (probe.cpus, probe.mem_total_mib) == (2, 1965)


def test_colima_is_sized_for_the_profile() -> None:
    assert colima_start_argv(4, 8192, 40960) == [
        "colima", "start", "--cpu", "4", "--memory", "10", "--disk", "100",
    ]  # fmt: skip
    assert colima_start_argv(8, 12 * 1024 + 1, 200 * 1024)[3:] == [
        "8", "--memory", "15", "--disk", "200",
    ]  # fmt: skip
