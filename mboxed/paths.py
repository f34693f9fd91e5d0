"""Where mboxed keeps its files (DESIGN §4).

State: $XDG_STATE_HOME/mboxed/<deployment>/state.yaml, log beside it.
Cache: $XDG_CACHE_HOME/mboxed/. `MBOXED_HOME` overrides all roots.
Hosts file: /etc/hosts; `MBOXED_HOSTS_FILE` names another (tests point it at
a file of their own).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mboxed.errors import MboxedError, StateError

HOSTS_FILE = Path("/etc/hosts")

DEPLOYMENT_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?")


def check_deployment_name(name: str) -> str:
    # fullmatch: with match and `$`, "x\n" passed (`$` matches before a final newline)
    if not DEPLOYMENT_NAME.fullmatch(name):
        raise MboxedError(
            f"--name {name!r} is not a valid deployment name",
            hint="use 1-40 lowercase letters, digits and '-', starting and ending "
            "with a letter or digit (it also names the cluster)",
        )
    return name


def unusable(action: str, path: Path, exc: OSError) -> StateError:
    """One line for a file of mboxed's own (state, lock, log) that the OS
    refuses, with what to do about it: these are the user's to fix, not bugs."""
    code = errno.errorcode.get(exc.errno or 0, "")
    reason = (exc.strerror or str(exc)) + (f" ({code})" if code else "")
    where = Path(exc.filename) if exc.filename else path
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = (
            "free some disk space there, then run the same command again; the "
            "state on disk is the last one saved"
        )
    elif exc.errno in (errno.EACCES, errno.EPERM):
        # The nearest directory that exists: the one to take back.
        mine = next(p for p in (path.parent, *path.parent.parents) if os.path.exists(p))
        hint = (
            f"{mine} belongs to another user (after a `sudo mboxed ...`?) or is "
            f'read-only: run mboxed as its owner, or make it yours: sudo chown -R "$USER" {mine}'
        )
    elif exc.errno == errno.EISDIR:
        hint = f"{where} is a directory where mboxed keeps a file: move it aside"
    elif exc.errno in (errno.ENOTDIR, errno.EEXIST):
        hint = (
            f"a file is where mboxed needs a directory (on the way to {path}): "
            "set MBOXED_HOME to a directory, or move that file aside"
        )
    elif exc.errno == errno.EROFS:
        hint = "the filesystem is read-only: set MBOXED_HOME to a writable directory"
    else:
        hint = "check that path, or set MBOXED_HOME to a directory of your own"
    return StateError(f"cannot {action} {path}: {reason}", hint=hint)


def check_regular(path: Path, what: str, hint: str | None = None) -> None:
    """Refuse a file that exists but is not a regular file, before opening
    it: opening a FIFO waits for a writer forever, a directory fails in ways
    that say nothing. The default hint is for a file of mboxed's own (state,
    log); a file the user names (a roster, a bundle) says what it must be."""
    try:
        mode = path.stat().st_mode
    except OSError:  # absent, or unreachable: opening it says which
        return
    if not stat.S_ISREG(mode):
        raise StateError(
            f"the {what} {path} is not a regular file",
            hint=hint
            or f"it was left untouched: move it aside (mv {path} {path}.aside), "
            "then run the command again",
        )


def read_named_file(
    path: str | Path,
    key: str,
    *,
    missing_hint: str,
    kind: str = "file",
    encoding: str = "utf-8",
    error: type[MboxedError] = MboxedError,
) -> tuple[Path, str]:
    """The text of a file a profile key names (`users.roster`, `images.pins`):
    one error line naming the key for a missing, unreadable, non-regular
    (a FIFO would wait for a writer forever) or undecodable file."""
    file = Path(path).expanduser()
    try:
        check_regular(file, f"{key} file", hint=f"give the path of a {kind}")
    except StateError as exc:
        raise error(exc.message, hint=exc.hint) from None
    try:
        return file, file.read_text(encoding=encoding)
    except FileNotFoundError:
        raise error(f"{key}: {file} does not exist", hint=missing_hint) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{key}: cannot read {file}: {exc}") from None


@dataclass(frozen=True)
class Paths:
    state_root: Path
    cache_root: Path
    bin_dir: Path
    hosts_file: Path = HOSTS_FILE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Paths:
        env = os.environ if env is None else env
        home = Path(env.get("HOME") or Path.home())
        hosts = Path(env.get("MBOXED_HOSTS_FILE") or HOSTS_FILE)
        if env.get("MBOXED_HOME"):
            root = Path(env["MBOXED_HOME"]).expanduser()
            return cls(root / "state", root / "cache", root / "bin", hosts)
        state = Path(env.get("XDG_STATE_HOME") or home / ".local" / "state")
        cache = Path(env.get("XDG_CACHE_HOME") or home / ".cache")
        is_root = hasattr(os, "geteuid") and os.geteuid() == 0
        bin_dir = Path("/usr/local/bin") if is_root else home / ".local" / "bin"
        return cls(state / "mboxed", cache / "mboxed", bin_dir, hosts)

    def deployment_dir(self, deployment: str) -> Path:
        return self.state_root / check_deployment_name(deployment)

    def state_file(self, deployment: str) -> Path:
        return self.deployment_dir(deployment) / "state.yaml"

    def log_file(self, deployment: str) -> Path:
        return self.deployment_dir(deployment) / "mboxed.log"

    def lock_file(self, deployment: str) -> Path:
        return self.deployment_dir(deployment) / "lock"

    def deployments(self) -> list[str]:
        if not self.state_root.is_dir():
            return []
        return sorted(p.parent.name for p in self.state_root.glob("*/state.yaml"))
