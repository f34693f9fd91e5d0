"""The one App object every CLI command receives: options in, context out.

Heavy pieces (profile parsing, state, step modules) load only when a command
asks for them, so `mboxed --help` stays fast.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import IO, Any

from mboxed import __version__
from mboxed.contract import Context, Options, Reporter
from mboxed.engine import Pipeline
from mboxed.errors import MboxedError
from mboxed.paths import Paths, check_deployment_name

log = logging.getLogger("mboxed")


@dataclass
class App:
    deployment: str = "default"
    profile_ref: str | None = None
    files: Sequence[str] = ()
    overrides: Sequence[str] = ()
    options: Options = field(default_factory=Options)
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    out: IO[str] = field(default_factory=lambda: sys.stdout)

    # The log this run writes to, once start_log() opened it: where an error
    # message points (mboxed.cli.main).
    log_file: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        check_deployment_name(self.deployment)
        if self.profile_ref is not None and not self.profile_ref.strip():
            # `--profile "$PROFILE"` with the variable unset: not a quiet demo.
            raise MboxedError(
                "--profile is empty",
                hint="name a profile (demo, minimal, workshop, ci) or a YAML file, "
                "or leave --profile out to use the one the last `up` used",
            )
        self._log_handler: logging.Handler | None = None

    @cached_property
    def paths(self) -> Paths:
        return Paths.from_env(self.env)

    # -- profile -------------------------------------------------------------
    def profile_args(self) -> tuple[str, list[str], list[str]]:
        """The profile named on the command line (with its -f/--set alone);
        else the one the last `up` of this deployment used, with its -f and
        --set and this command's on top; else demo."""
        stored = (self.state.data.get("profile") or {}) if self.state.exists else {}
        if self.profile_ref or not stored.get("name"):
            return self.profile_ref or "demo", list(self.files), list(self.overrides)
        # `up --set users.generate.count=40` after `up -f room.yaml --set
        # hostname=…` keeps room.yaml and the hostname: a later -f of the same
        # file and a later --set of the same key replace the earlier one.
        files = [f for f in stored.get("files", []) if f not in self.files]
        given = {o.partition("=")[0].strip() for o in self.overrides}
        sets = [o for o in stored.get("set", []) if o.partition("=")[0].strip() not in given]
        return stored["name"], [*files, *self.files], [*sets, *self.overrides]

    @cached_property
    def loaded_profile(self) -> Any:
        from mboxed.profile import load_profile

        name, files, overrides = self.profile_args()
        return load_profile(name, files, overrides)

    def remember_profile(self) -> None:
        """What the next command of this deployment uses when it is not told:
        the profile with its -f/--set, and the mirror."""
        name, files, overrides = self.profile_args()
        self.state.data["profile"] = {"name": name, "files": files, "set": overrides}
        # a bundle's room lives for one run only: never the next run's mirror
        self.state.data["options"] = {"mirror": None if self.options.bundle else self.mirror}

    @cached_property
    def mirror(self) -> str | None:
        """--mirror (or MBOXED_MIRROR); else the one the last `up` used, so a
        classroom `start` or re-run keeps to the room's mirror. `--mirror none`
        goes back to the upstream hosts."""
        given = self.options.mirror
        if given is not None:
            return None if given.strip().lower() == "none" else given
        stored = (self.state.data.get("options") or {}) if self.state.exists else {}
        mirror = stored.get("mirror")
        return str(mirror) if mirror else None

    # -- state, shell, log -----------------------------------------------------
    @cached_property
    def state(self) -> Any:
        from mboxed.state import State

        return State.load(self.paths.state_file(self.deployment), self.deployment)

    @contextlib.contextmanager
    def locked(self, command: str) -> Iterator[Any]:
        """Hold the deployment's lock, with the state read again under it.

        A command that writes the state works from what the previous holder
        saved: read before the lock, a concurrent run's steps would be
        overwritten by this run's saves. The profile and mirror, derived from
        the state, are derived again too."""
        from mboxed.state import deployment_lock

        with deployment_lock(self.paths.lock_file(self.deployment), command):
            for derived in ("state", "loaded_profile", "mirror"):
                self.__dict__.pop(derived, None)
            yield self.state

    @cached_property
    def shell(self) -> Any:
        from mboxed.shell import Shell

        return Shell(env=self.env)

    def start_log(self, command: str) -> None:
        """Full detail of this run goes to the deployment's log file."""
        from mboxed.paths import check_regular, unusable

        path = self.paths.log_file(self.deployment)
        check_regular(path, "log file")
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            handler = logging.FileHandler(path, encoding="utf-8")
            os.chmod(path, 0o600)
        except OSError as exc:
            raise unusable("open the log file", path, exc) from None
        # A log line that cannot be written (a full disk) is lost, not a
        # traceback on the terminal: the state's own error says what happened.
        logging.raiseExceptions = False
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger("mboxed")
        root.setLevel(logging.DEBUG)
        root.addHandler(handler)
        self._log_handler = handler
        self.log_file = str(path)
        log.info("=== mboxed %s %s (deployment %s) ===", __version__, command, self.deployment)

    # -- engine ----------------------------------------------------------------
    @cached_property
    def reporter(self) -> Reporter:
        from mboxed.ui import make_reporter

        return make_reporter(self.out)

    def context(self) -> Context:
        self.options.mirror = self.mirror
        return Context(
            deployment=self.deployment,
            profile=self.loaded_profile.profile,
            paths=self.paths,
            shell=self.shell,
            state=self.state,
            reporter=self.reporter,
            options=self.options,
            profile_name=self.loaded_profile.name,
            confirm_fn=_ask if sys.stdin.isatty() else None,
        )

    def pipeline(self) -> Pipeline:
        from mboxed.steps import load_steps

        return Pipeline(load_steps())


def _ask(question: str) -> bool:
    import click

    return click.confirm(question, default=False)
