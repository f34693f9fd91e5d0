"""A real Context for the configuration steps (secrets, tls, users) and
values: a real state file under tmp, a real shell, a plain reporter."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mboxed.engine import Context, Options, Pipeline, Step
from mboxed.paths import Paths
from mboxed.profile import load_profile
from mboxed.shell import Shell
from mboxed.state import State
from mboxed.ui import PlainReporter


def make_ctx(
    tmp_path: Path,
    *,
    profile: str = "demo",
    overrides: Sequence[str] = (),
    options: Options | None = None,
    deployment: str = "default",
) -> Context:
    paths = Paths.from_env({"MBOXED_HOME": str(tmp_path / "mboxed-home"), "HOME": str(tmp_path)})
    state = State.load(paths.state_file(deployment), deployment)
    return Context(
        deployment=deployment,
        profile=load_profile(profile, overrides=list(overrides)).profile,
        paths=paths,
        shell=Shell(env=dict(os.environ)),
        state=state,
        reporter=PlainReporter(io.StringIO()),
        options=options or Options(),
        profile_name=profile,
    )


def record(ctx: Context, step: str, outputs: Mapping[str, Any]) -> None:
    """Record an earlier step's outputs the way the engine does."""
    entry = ctx.state.step(step)
    entry.data["status"] = "done"
    entry.outputs.update(outputs)
    ctx.state.save()


def run(ctx: Context, *steps: Step) -> list[str]:
    """Run steps through the real engine; the outcomes (done/skipped)."""
    results = Pipeline(list(steps), retry_wait=0.01).up(ctx)
    return [r.outcome for r in results]
