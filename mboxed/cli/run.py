"""What `up`, `plan` and `start` share: build the context, run the pipeline."""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from mboxed.app import App
from mboxed.engine import Pipeline, StepResult
from mboxed.errors import MboxedError
from mboxed.steps import PIPELINE


def _check_requested(names: Sequence[str]) -> None:
    known = [name for name, _ in PIPELINE]
    for name in names:
        if name not in known:
            raise MboxedError(f"no step named {name!r}", hint="steps: " + ", ".join(known))


def run_up(
    app: App,
    *,
    dry_run: bool,
    only: Sequence[str] = (),
    from_: str | None = None,
    as_json: bool = False,
    command: str = "up",
) -> list[StepResult]:
    app.options.dry_run = dry_run
    profile = app.loaded_profile  # validate before touching anything
    pipeline = app.pipeline()
    _check_requested([*only, *([from_] if from_ else [])])
    if not pipeline.select(only, from_):
        # Say so, before anything is written: exit 0 would read as "done".
        raise MboxedError(
            f"nothing to run: every --only step ({', '.join(only)}) comes before --from {from_}",
            hint="drop --from, or name steps from it on with --only",
        )
    if as_json:
        import io

        from mboxed.ui import PlainReporter

        app.reporter = PlainReporter(io.StringIO())
    if dry_run:
        results = _run_pipeline(app, pipeline, only, from_, command)
    else:
        app.start_log(command)
        with app.locked(command):
            app.remember_profile()
            results = _run_pipeline(app, pipeline, only, from_, command)
    if as_json:
        click.echo(json.dumps(_as_json(results, profile.name), indent=2))
    return results


def _run_pipeline(
    app: App, pipeline: Pipeline, only: Sequence[str], from_: str | None, command: str
) -> list[StepResult]:
    ctx = app.context()
    try:
        return pipeline.up(ctx, only=only, from_=from_, command=command)
    except MboxedError as exc:
        if not exc.hint:
            again = ctx.command_line(command)
            exc.hint = (
                f"fix the above, then run `{again}` again; finished steps are skipped"
                if command != "plan"
                else f"fix the above, then run `{again}` again"
            )
        raise


def _as_json(results: Sequence[StepResult], profile: str) -> object:
    return {
        "profile": profile,
        "steps": [
            {
                "step": r.name,
                "outcome": r.outcome,
                "actions": [a.summary for a in (r.plan.actions if r.plan else [])],
                "reason": r.plan.reason if r.plan else "",
                "note": r.note,
            }
            for r in results
        ],
    }
