"""A real Context for the configuration steps (secrets, tls, users) and
values: a real state file under tmp, a real shell, a plain reporter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mboxed.contract import Context, Options, Step
from mboxed.engine import Pipeline
from tests.context import make_context


def make_ctx(
    tmp_path: Path,
    *,
    profile: str = "demo",
    overrides: Sequence[str] = (),
    options: Options | None = None,
    deployment: str = "default",
) -> Context:
    return make_context(
        tmp_path / "mboxed-home",
        profile=profile,
        overrides=overrides,
        options=options,
        deployment=deployment,
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
