"""How a download failed: for good (DownloadError, one line saying what and
what to do) or worth another attempt (Transient: a timeout, a dropped
connection, a 5xx), and the short words said about a socket error.
mboxed.downloads retries the transient ones with backoff, a few times.
"""

from __future__ import annotations

import socket

from mboxed.errors import MboxedError


class DownloadError(MboxedError):
    """A download failed for good (after retries, or at once when permanent)."""


class Transient(Exception):
    """Worth another attempt: timeout, dropped connection, 5xx."""


def is_name_error(exc: BaseException) -> bool:
    """Does the host not resolve (anywhere in the exception's chain)?"""
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
