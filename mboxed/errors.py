"""The error types every layer raises. The CLI maps MboxedError to exit 1."""

from __future__ import annotations


class MboxedError(Exception):
    """A failure the user can act on. `hint` says what to do next."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ProfileError(MboxedError):
    """A profile, -f file or --set override is not valid."""


class StateError(MboxedError):
    """The state file cannot be read or written."""


class LockHeld(MboxedError):
    """Another mboxed run holds this deployment's lock."""


class TransientError(MboxedError):
    """A failure worth retrying (network blip, API server warming up)."""


class DidNotConverge(MboxedError):
    """A step applied its actions but the world still differs from its plan."""


class Deferred(MboxedError):
    """A step's facts cannot be read until an earlier step has run.

    Raised from `facts()`; in a dry run the engine prints it ("after cluster")
    instead of guessing.
    """

    def __init__(self, after: str, detail: str = "") -> None:
        super().__init__(f"after {after}" + (f": {detail}" if detail else ""))
        self.after = after


class Interrupted(BaseException):
    """SIGTERM (or SIGINT) arrived during a run. BaseException so that no
    `except Exception` in a step swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by signal {signum}")
        self.signum = signum
