"""Tests talk to loopback only: a DNS lookup of any other name, or a connect
to any other address, is written to a log and refused.

Installed as an audit hook in the pytest process (tests/conftest.py) and in
every Python subprocess a test starts (tests/netguard/sitecustomize.py), so
`python -m mboxed ...` and the fakes are held to the same rule. The log
catches what a broad `except` would swallow; conftest fails the test that
wrote to it.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from typing import Any

_state: dict[str, Any] = {"log": None}

LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class NetworkGuardError(RuntimeError):
    pass


def _is_loopback(host: str) -> bool:
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(what: str) -> None:
    path = _state["log"]
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{what}\n")
    raise NetworkGuardError(f"tests may only use loopback: {what}")


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _state["log"] is None:
        return
    if event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"):
        host = args[0]
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        if host in (None, "") or _is_loopback(str(host)):
            return
        _refuse(f"DNS lookup of {host!r}")
    elif event in ("socket.connect", "socket.sendto"):
        sock, address = args[0], args[1] if event == "socket.connect" else args[-1]
        if getattr(sock, "family", None) == socket.AF_UNIX or not isinstance(address, tuple):
            return
        if not _is_loopback(str(address[0])):
            _refuse(f"connection to {address[0]}:{address[1]}")


def install(log_path: str) -> None:
    _state["log"] = log_path
    if not _state.get("hooked"):
        sys.addaudithook(_audit)
        _state["hooked"] = True


def suspend() -> None:
    _state["log"] = None
