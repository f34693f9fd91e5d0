"""The loopback-only guard must really refuse, in process and in subprocesses."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.netguard.guard import NetworkGuardError


def test_loopback_is_allowed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
    assert socket.getaddrinfo("localhost", 80)


def test_a_lookup_of_another_name_is_refused_and_logged() -> None:
    with pytest.raises(NetworkGuardError, match=r"DNS lookup of 'registry\.cern\.ch'"):
        socket.getaddrinfo("registry.cern.ch", 443)
    log = Path(os.environ["MBOXED_TEST_NETGUARD_LOG"])
    assert "registry.cern.ch" in log.read_text()
    log.unlink()  # this test meant to trip the guard


def test_a_connection_elsewhere_is_refused_before_any_packet() -> None:
    with socket.socket() as sock, pytest.raises(NetworkGuardError, match=r"192\.0\.2\.1:443"):
        sock.connect(("192.0.2.1", 443))  # TEST-NET-1: never routed
    Path(os.environ["MBOXED_TEST_NETGUARD_LOG"]).unlink()


def test_python_subprocesses_carry_the_guard() -> None:
    code = "import socket; socket.getaddrinfo('example.org', 80)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert "tests may only use loopback" in result.stderr
    log = Path(os.environ["MBOXED_TEST_NETGUARD_LOG"])
    assert "example.org" in log.read_text()
    log.unlink()
