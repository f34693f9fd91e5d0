"""Toy steps for engine tests and benchmarks: real files, real subprocesses.

A `FileStep` makes one file hold content derived from its input; its facts
read the file, so a file deleted or edited by hand is noticed. A
`CommandStep` creates a directory through the shell seam (a real `mkdir`).
Run as a program, it drives a pipeline in its own process, so tests can kill
it with SIGKILL at chosen points:

    python -m tests.toy up|down HOME COUNT [--slow STEP] [--param VALUE]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mboxed.contract import Action, BaseStep, Context, Options, Plan
from mboxed.engine import Pipeline
from mboxed.errors import TransientError
from mboxed.paths import Paths
from mboxed.shell import Shell
from mboxed.state import State
from mboxed.ui import PlainReporter


class FileStep(BaseStep):
    def __init__(
        self,
        name: str,
        root: Path,
        param: str = "v1",
        slow: float = 0.0,
        flaky: int = 0,
    ) -> None:
        self.name = name
        self.description = f"file {name}"
        self.root = root
        self.param = param
        self.slow = slow
        self.flaky = flaky  # fail this many applies with a TransientError first
        self.applied = 0
        self.fact_reads = 0

    @property
    def path(self) -> Path:
        return self.root / f"{self.name}.txt"

    def wanted(self) -> str:
        return f"{self.name}={self.param}\n"

    def inputs(self, ctx: Context) -> Mapping[str, Any]:
        return {"param": self.param}

    def facts(self, ctx: Context) -> str | None:
        self.fact_reads += 1
        return self.path.read_text() if self.path.exists() else None

    def plan(self, ctx: Context, facts: str | None) -> Plan:
        if facts == self.wanted():
            return Plan.nothing(f"{self.path.name} is up to date")
        verb = "create" if facts is None else "rewrite"
        return Plan([Action(f"{verb} {self.path.name}", kind=verb)])

    def apply(self, ctx: Context, plan: Plan) -> Mapping[str, Any]:
        if self.flaky > 0:
            self.flaky -= 1
            raise TransientError(f"{self.name}: flaky failure")
        self.applied += 1
        existed = self.path.exists()
        tmp = self.path.with_suffix(".tmp")
        # Half-write first, so a kill during `slow` leaves a visibly wrong file.
        tmp.write_text(self.wanted()[:3])
        tmp.replace(self.path)
        if not existed:
            ctx.record("file_created", path=str(self.path))
        if self.slow:
            time.sleep(self.slow)
        self.path.write_text(self.wanted())
        return {"path": str(self.path)}

    def outputs(self, ctx: Context, facts: Any) -> Mapping[str, Any]:
        return {"content": facts}


class CommandStep(BaseStep):
    """Makes a directory with a real `mkdir` through the shell seam."""

    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.description = f"directory {name}"
        self.path = root / f"{name}.d"
        self.applied = 0

    def facts(self, ctx: Context) -> bool:
        return self.path.is_dir()

    def plan(self, ctx: Context, facts: bool) -> Plan:
        if facts:
            return Plan.nothing(f"{self.path.name} exists")
        return Plan([Action(f"mkdir {self.path.name}")])

    def apply(self, ctx: Context, plan: Plan) -> None:
        self.applied += 1
        ctx.shell.run(["mkdir", "-p", str(self.path)])
        ctx.record("dir_created", path=str(self.path))


ToyStep = FileStep | CommandStep


def toy_steps(root: Path, count: int, param: str = "v1", slow: str = "") -> list[ToyStep]:
    steps: list[ToyStep] = []
    for i in range(count):
        name = f"s{i:02d}"
        if i % 4 == 3:
            steps.append(CommandStep(name, root))
        else:
            steps.append(FileStep(name, root, param, slow=3600.0 if name == slow else 0.0))
    return steps


def make_context(home: Path, deployment: str = "default", stream: Any = None) -> Context:
    paths = Paths(home / "state", home / "cache", home / "bin")
    state = State.load(paths.state_file(deployment), deployment)
    return Context(
        deployment=deployment,
        profile=None,
        paths=paths,
        shell=Shell(),
        state=state,
        reporter=PlainReporter(stream if stream is not None else sys.stdout),
        options=Options(),
        profile_name="toy",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["up", "down", "plan"])
    parser.add_argument("home", type=Path)
    parser.add_argument("count", type=int)
    parser.add_argument("--slow", default="")
    parser.add_argument("--param", default="v1")
    args = parser.parse_args(argv)
    work = args.home / "work"
    work.mkdir(parents=True, exist_ok=True)
    ctx = make_context(args.home)
    ctx.options.dry_run = args.command == "plan"
    pipeline = Pipeline(toy_steps(work, args.count, args.param, args.slow))
    if args.command == "down":
        pipeline.down(ctx)
    else:
        pipeline.up(ctx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
