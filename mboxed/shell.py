"""The one seam through which mboxed runs external commands.

Every command is resolved on the shell's PATH, logged to the run log with
secrets redacted, bounded by a timeout, and raises CommandError (command, exit
code, tail of its output) when it fails and the caller asked to check.
Steps never import subprocess.

A command that must not die in the middle of its work (`helm upgrade`, which
leaves its release pending-upgrade for good when it is killed) is run with
`stop_grace`: on its timeout, and when mboxed itself is interrupted (Ctrl-C,
SIGTERM) while it runs, it gets SIGINT and `stop_grace` seconds to wind up,
then SIGTERM, and only then SIGKILL. Such a command runs in a process group
of its own: the signals reach it (and what it started, a post-renderer) only
from mboxed, in that order, and never a Ctrl-C meant for mboxed before
mboxed decides. (So it cannot ask for a password on the terminal: not for
root commands.)
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mboxed.errors import MboxedError

log = logging.getLogger("mboxed.shell")

TAIL_LINES = 15
# After SIGTERM (the second request to stop), before SIGKILL.
TERM_GRACE = 5.0


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class CommandError(MboxedError):
    """A command exited non-zero (or timed out, or was not found)."""

    def __init__(
        self,
        argv: Sequence[str],
        returncode: int | None,
        stdout: str = "",
        stderr: str = "",
        reason: str = "",
    ) -> None:
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        what = reason or f"exited with code {returncode}"
        lines = [f"command failed: {shlex.join(self.argv)}", f"  {what}"]
        tail = (stderr.strip() or stdout.strip()).splitlines()[-TAIL_LINES:]
        lines += [f"    {line}" for line in tail]
        super().__init__("\n".join(lines))


class Shell:
    """Runs commands. `env` is the environment commands see (default: ours)."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
        default_timeout: float = 600.0,
    ) -> None:
        self.env: dict[str, str] = dict(os.environ if env is None else env)
        self._secrets: set[str] = {s for s in secrets if s}
        self.default_timeout = default_timeout

    # -- secrets -----------------------------------------------------------
    def add_secret(self, *values: str) -> None:
        """Register values never to be written to the log or an error."""
        self._secrets.update(v for v in values if v and len(v) >= 4)

    def redact(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    # -- lookup ------------------------------------------------------------
    def which(self, name: str) -> Path | None:
        found = shutil.which(name, path=self.env.get("PATH", os.defpath))
        return Path(found) if found else None

    @staticmethod
    def is_root() -> bool:
        return os.geteuid() == 0

    # -- running -----------------------------------------------------------
    def run(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        check: bool = True,
        timeout: float | None = None,
        input: str | None = None,
        root: bool = False,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        stop_grace: float | None = None,
    ) -> Result:
        args = [os.fspath(a) for a in argv]
        if root and not self.is_root():
            if self.which("sudo") is None:
                raise MboxedError(
                    f"{shlex.join(args)} needs root, and sudo is not installed",
                    hint="run mboxed as root, or install sudo and allow this user to use it",
                )
            args = ["sudo", *([] if sys.stdin.isatty() else ["-n"]), *args]
        full_env = {**self.env, **(env or {})}
        exe = shutil.which(args[0], path=full_env.get("PATH", os.defpath))
        shown = self.redact(shlex.join(args))
        if exe is None:
            log.info("$ %s  -> not found", shown)
            raise CommandError(args, None, reason=f"{args[0]}: command not found on PATH")
        limit = self.default_timeout if timeout is None else timeout
        # plumbum is imported on first use: commands that run nothing start faster.
        from plumbum import local
        from plumbum.commands.processes import ProcessTimedOut

        command = local[exe][args[1:]].with_env(**full_env)
        if input is not None:
            command = command << input
        log.info("$ %s", shown)
        try:
            with local.cwd(os.fspath(cwd)) if cwd is not None else contextlib.nullcontext():
                if stop_grace is None:
                    code, out, err = command.run(retcode=None, timeout=limit)
                else:
                    proc = command.popen(process_group=0)
                    code, out, err = _run_stoppable(proc, limit, stop_grace)
        except ProcessTimedOut as exc:
            log.info("  timed out after %ss", limit)
            raise CommandError(
                args, None, reason=f"timed out after {limit:g}s", stderr=self.redact(str(exc))
            ) from None
        except _StoppedOnTimeout as exc:
            raise CommandError(
                [self.redact(a) for a in args],
                exc.returncode,
                self.redact(exc.stdout),
                self.redact(exc.stderr),
                reason=f"timed out after {limit:g}s; {exc.how}",
            ) from None
        out_s, err_s = _text(out), _text(err)
        log.debug("  exit %s", code)
        for stream, text in (("stdout", out_s), ("stderr", err_s)):
            if text.strip():
                log.debug("  %s:\n%s", stream, self.redact(text.rstrip()))
        result = Result(tuple(args), int(code), out_s, err_s)
        if check and not result.ok:
            raise CommandError(
                [self.redact(a) for a in args],
                result.returncode,
                self.redact(out_s),
                self.redact(err_s),
            )
        return result


class _StoppedOnTimeout(Exception):
    def __init__(self, how: str, returncode: int | None, stdout: str, stderr: str) -> None:
        super().__init__(how)
        self.how, self.returncode, self.stdout, self.stderr = how, returncode, stdout, stderr


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode("utf-8", "replace")


def _run_stoppable(proc: Any, limit: float, grace: float) -> tuple[int, str, str]:
    """Wait for `proc` (a Popen) up to `limit` seconds; past it, or when
    mboxed is interrupted meanwhile, stop it gently (see the module docstring)."""
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        log.info("  no end after %ss: stopping it", limit)
        how, out, err = _stop_gently(proc, grace)
        raise _StoppedOnTimeout(how, proc.returncode, _text(out), _text(err)) from None
    except BaseException:
        # Ctrl-C reached the child too (same process group), SIGTERM did not:
        # either way it gets its chance to wind up before mboxed goes.
        log.info("  interrupted: stopping it")
        _stop_gently(proc, grace)
        raise
    return int(proc.returncode), _text(out), _text(err)


def _stop_gently(proc: Any, grace: float) -> tuple[str, Any, Any]:
    """SIGINT, `grace` seconds; SIGTERM, TERM_GRACE seconds; SIGKILL, each to
    the command's process group. Returns how it ended, and all it wrote."""
    for signum, wait in ((signal.SIGINT, grace), (signal.SIGTERM, TERM_GRACE)):
        name = signal.Signals(signum).name
        log.info("  sending %s, waiting up to %gs", name, wait)
        _signal_group(proc, signum)
        try:
            out, err = proc.communicate(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        return f"stopped with {name}", out, err
    log.info("  sending SIGKILL")
    _signal_group(proc, signal.SIGKILL)
    try:
        out, err = proc.communicate(timeout=TERM_GRACE)
    except subprocess.TimeoutExpired:  # something outside the group holds its pipes
        out = err = ""
    return "killed (SIGKILL): it did not stop on SIGINT nor SIGTERM", out, err


def _signal_group(proc: Any, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it (and its group) ended already
        os.killpg(proc.pid, signum)
