"""A world for the install-side steps (chart, sciencebox, ready, verify,
summary): a real state file, a real shell whose PATH starts with
tests/fakes/bin (the `helm` stand-in), and earlier steps' outputs recorded
the way the engine records them."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mboxed.contract import Context, Options
from mboxed.ui import PlainReporter
from tests.context import make_context

FAKE_BIN = Path(__file__).resolve().parent.parent / "fakes" / "bin"


@dataclass
class World:
    ctx: Context
    fake_state: Path
    out: io.StringIO

    def helm_state(self) -> dict[str, Any]:
        path = self.fake_state / "helm.json"
        return json.loads(path.read_text()) if path.exists() else {"calls": [], "releases": {}}

    def helm_calls(self, command: str | None = None) -> list[list[str]]:
        calls = self.helm_state()["calls"]
        return [c for c in calls if command is None or (c and c[0] == command)]

    def record(self, step: str, outputs: Mapping[str, Any]) -> None:
        record = self.ctx.state.step(step)
        record.data["status"] = "done"
        record.outputs.update(outputs)
        self.ctx.state.save()


class TriggeringReporter(PlainReporter):
    """Plain lines, and once a progress line contains `text`, calls `action`:
    the world changes exactly when the step is waiting, not after a guessed
    delay."""

    def __init__(self, out: io.StringIO, text: str, action: Callable[[], None]) -> None:
        super().__init__(out)
        self.text = text
        self.action: Callable[[], None] | None = action

    def step_progress(self, name: str, message: str) -> None:
        super().step_progress(name, message)
        if self.action is not None and self.text in message:
            action, self.action = self.action, None
            action()


def when_progress(world: World, text: str, action: Callable[[], None]) -> None:
    world.ctx.reporter = TriggeringReporter(world.out, text, action)


def make_world(
    tmp_path: Path,
    *,
    overrides: tuple[str, ...] = (),
    profile: str = "demo",
    env: Mapping[str, str] | None = None,
    options: Options | None = None,
) -> World:
    fake_state = tmp_path / "fake-state"
    fake_state.mkdir(parents=True, exist_ok=True)
    shell_env = {
        **os.environ,
        # this interpreter's directory second: `#!/usr/bin/env python3` of the
        # fakes then starts it directly, not through a slow pyenv shim
        "PATH": os.pathsep.join(
            [str(FAKE_BIN), str(Path(sys.executable).parent), os.environ.get("PATH", "")]
        ),
        "MBOXED_FAKE_STATE": str(fake_state),
        **(env or {}),
    }
    out = io.StringIO()
    ctx = make_context(
        tmp_path / "mboxed-home",
        profile=profile,
        overrides=overrides,
        shell_env=shell_env,
        options=options,
        out=out,
    )
    return World(ctx, fake_state, out)
