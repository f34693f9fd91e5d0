"""Network failures told apart for a download: a host that does not resolve
(permanent: retrying will not help) from a refused, reset or timed-out
connection (transient), and a short reason for the one line a user sees.
"""

from __future__ import annotations

import socket


def is_name_error(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return True
        if type(current).__name__ == "NameResolutionError":
            return True
        text = str(current)
        if "Name or service not known" in text or "nodename nor servname" in text:
            return True
        if "Temporary failure in name resolution" in text:
            return True
        current = current.__cause__ or current.__context__ or _reason(current)
    return False


def _reason(exc: BaseException) -> BaseException | None:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        return reason
    args = getattr(exc, "args", ())
    for arg in args:
        if isinstance(arg, BaseException):
            return arg
    return None


def connect_reason(exc: BaseException) -> str:
    text = str(exc)
    for needle, said in (
        ("Connection refused", "connection refused"),
        ("timed out", "timed out"),
        ("Network is unreachable", "network unreachable"),
        ("No route to host", "no route to host"),
        ("Connection reset", "connection reset"),
    ):
        if needle in text:
            return said
    return short(exc)


def short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
