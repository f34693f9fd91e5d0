"""The `mboxed` command. Subcommands live one per module and are imported only
when called, so `mboxed --help` stays instant."""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import signal
import sys
import traceback
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from mboxed import __version__
from mboxed.errors import Interrupted, MboxedError

if TYPE_CHECKING:  # imported when a command runs, not for `mboxed --help`
    from mboxed.app import App

COMMANDS: dict[str, tuple[str, str]] = {
    "up": ("mboxed.cli.up:up", "Bring ScienceBox up, from a bare host to a logged-in demo user."),
    "plan": ("mboxed.cli.plan:plan", "Show what `up` would do; change nothing."),
    "down": ("mboxed.cli.down:down", "Remove the deployment and revert every host change."),
    "stop": ("mboxed.cli.stop:stop", "Stop the cluster, keeping its data; frees CPU and RAM."),
    "start": ("mboxed.cli.start:start", "Start a stopped cluster again (also after a reboot)."),
    "status": ("mboxed.cli.status:status", "Show steps, drift, cluster state and URLs."),
    "doctor": ("mboxed.cli.doctor:doctor", "Check this host against a profile's needs."),
    "profiles": ("mboxed.cli.profiles:profiles", "List and show profiles."),
    "users": ("mboxed.cli.users:users", "List and export the deployment's users."),
    "values": ("mboxed.cli.values:values", "Print the generated Helm values."),
    "render": (
        "mboxed.cli.render:render",
        "Render the manifests the install would apply (helm template).",
    ),
    "images": ("mboxed.cli.images:images", "List every image: where used, size, on the node."),
    "verify": ("mboxed.cli.verify:verify", "Run the smoke test against the deployment."),
    "trust": ("mboxed.cli.trust:trust", "Add the local CA to this host's trust store."),
    "logs": ("mboxed.cli.logs:logs", "Show the deployment's log."),
    "mirror": ("mboxed.cli.mirror:mirror", "Build (or serve) a classroom mirror in a directory."),
    "bundle": ("mboxed.cli.bundle:bundle", "Write one offline bundle file for `up --bundle`."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        target = COMMANDS[cmd_name][0]
        module_name, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help text comes from the table above: listing commands imports nothing.
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, (_, short) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mboxed")
def cli() -> None:
    """ScienceBox (EOS, CERNBox, SWAN, CVMFS) on one machine.

    \b
        mboxed up --profile demo     everything, from a bare host to a demo user
        mboxed down                  undo it
    """


INTERRUPTED = "interrupted: the state was saved; run the same command again to resume"


@dataclass
class Invocation:
    """One call of main(), handed to the commands as click's `obj`: the App a
    command builds registers here, so that main() can point an error at the
    log of this run (App.log_file), and never at an earlier call's."""

    app: App | None = None

    @property
    def log_file(self) -> str | None:
        return self.app.log_file if self.app is not None else None


def _fail(lines: list[str], code: int) -> int:
    for line in lines:
        click.echo(line, err=True)
    return code


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def _tolerant_streams() -> None:
    """A character the terminal's encoding lacks (the marks ✓ … under
    LANG=C with UTF-8 mode off, PYTHONIOENCODING=ascii; a file name that is
    not UTF-8) is written escaped, not an exception in the middle of a run."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


# How writing to standard output fails: a full disk (> file, or /dev/full), a
# reader that went away (| head), a terminal that is gone. mboxed's own files
# never fail this way unnoticed: their errors name the file (paths.unusable).
_OUTPUT_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EPIPE, errno.EIO)


def _output_failed(exc: BaseException) -> bool:
    """Whether `exc` is standard output failing. If so, standard output is
    pointed at /dev/null, so that Python's own flush at exit is quiet."""
    if not (isinstance(exc, OSError) and exc.filename is None and exc.errno in _OUTPUT_ERRNOS):
        return False
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return True


def _interrupted_within(exc: BaseException) -> int | None:
    """The signal behind an error that only wraps it: a SIGTERM or Ctrl-C
    that arrived inside Python machinery which turns what it catches into
    another exception (RuntimeError from __set_name__ while a module is
    imported at start-up), or raised while one was being handled."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, Interrupted):
            return current.signum
        if isinstance(current, KeyboardInterrupt):
            return signal.SIGINT
        current = current.__cause__ or current.__context__
    return None


def main(argv: list[str] | None = None) -> Any:
    invocation = Invocation()
    _tolerant_streams()
    # SIGTERM ends the whole command the same way, with 128+15 (as a shell
    # reports a process the signal killed), from start-up to the last line:
    # not only while the engine runs steps.
    try:
        previous = signal.signal(signal.SIGTERM, _sigterm)
    except ValueError:  # not the main thread: leave signals alone
        return _main(argv, invocation)
    try:
        return _main(argv, invocation)
    finally:
        if argv is None:
            # The program itself (console script, python -m), now done: a
            # Ctrl-C or SIGTERM in Python's own shutdown (threading._shutdown)
            # has nothing left to interrupt, and would only print an
            # "Exception ignored ... KeyboardInterrupt" traceback or turn a
            # finished command's exit code into 143.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        else:
            signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None, invocation: Invocation) -> Any:
    try:
        result = cli.main(args=argv, prog_name="mboxed", standalone_mode=False, obj=invocation)
        sys.stdout.flush()  # here, where a failure is reported, not at exit
    except click.exceptions.Abort as exc:
        # click turns Ctrl-C into Abort; a run interrupted mid-step saved its state.
        if isinstance(exc.__cause__, KeyboardInterrupt):
            sys.exit(_fail([INTERRUPTED], 130))
        sys.exit(_fail(["aborted"], 130))
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except MboxedError as exc:
        lines = [
            f"error: {line}" if i == 0 else line for i, line in enumerate(str(exc).splitlines())
        ]
        if exc.hint:
            lines.append(f"hint: {exc.hint}")
        if invocation.log_file:
            lines.append(f"log: {invocation.log_file}")
        sys.exit(_fail(lines, 1))
    except Interrupted as exc:
        sys.exit(_fail([INTERRUPTED], 128 + exc.signum))
    except KeyboardInterrupt:
        sys.exit(_fail([INTERRUPTED], 130))
    except Exception as exc:
        signum = _interrupted_within(exc)
        if signum is not None:
            sys.exit(_fail([INTERRUPTED], 128 + signum))
        if _output_failed(exc):
            reason = getattr(exc, "strerror", None) or str(exc)
            sys.exit(_fail([f"error: cannot write the output: {reason}"], 1))
        details = traceback.format_exc()
        where = _write_crash(details, invocation.log_file)
        sys.exit(
            _fail(
                [
                    "mboxed hit a bug (this is not your fault).",
                    f"details: {where}",
                    "please report it with that file attached",
                ],
                3,
            )
        )
    if isinstance(result, int) and result:
        sys.exit(result)
    return result


def _write_crash(details: str, log_file: str | None) -> str:
    import logging

    from mboxed.paths import Paths

    logging.getLogger("mboxed").error("crash:\n%s", details)
    if log_file:
        return log_file
    path = Paths.from_env().state_root / "crash.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(details)
    except OSError:
        return "(could not write a crash log)\n" + details
    return str(path)
