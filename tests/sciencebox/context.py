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


def web_assets_outputs() -> dict[str, Any]:
    """Outputs of the web-assets step as it records them for two small files
    (the values read the sums and the ConfigMap names, never the files)."""
    return {
        "namespace": "default",
        "assets": [
            {
                "name": "web",
                "url": "https://github.com/cernbox/web-release/releases/download/v0.0.9/web.tar.gz",
                "sha256": "1" * 64,
                "size": 1_500_000,
                "configmaps": {"mboxed-web-web-000": "2" * 64, "mboxed-web-web-001": "3" * 64},
            },
            {
                "name": "theme",
                "url": "https://github.com/cernbox/web-extensions/releases/download/"
                "theme-cernbox/v0.1.7/theme-cernbox.tar.gz",
                "sha256": "4" * 64,
                "size": 2000,
                "configmaps": {"mboxed-web-theme-000": "5" * 64},
            },
        ],
    }
