"""The pipeline's steps, in order (DESIGN §1).

Each entry names a step and the factory that builds it ("module:function");
the modules are imported only when a command runs the pipeline, so `mboxed
--help` and `mboxed status` stay light.
"""

from __future__ import annotations

import importlib

from mboxed.contract import Step

PIPELINE: tuple[tuple[str, str], ...] = (
    ("preflight", "mboxed.steps.preflight:make"),
    ("packages", "mboxed.steps.packages:make"),
    ("docker", "mboxed.steps.docker:make"),
    ("kubectl", "mboxed.steps.tool:kubectl"),
    ("helm", "mboxed.steps.tool:helm"),
    ("minikube", "mboxed.steps.tool:minikube"),
    ("kind", "mboxed.steps.tool:kind"),
    ("cluster", "mboxed.steps.cluster:make"),
    ("chart", "mboxed.steps.chart:make"),
    # right after the chart it renders: the pulls run alongside the steps below
    ("images", "mboxed.steps.images:make"),
    ("web-assets", "mboxed.steps.web_assets:make"),
    ("secrets", "mboxed.steps.secrets:make"),
    ("tls", "mboxed.steps.tls:make"),
    ("users", "mboxed.steps.users:make"),
    ("sciencebox", "mboxed.steps.sciencebox:make"),
    ("ready", "mboxed.steps.ready:make"),
    ("verify", "mboxed.steps.verify:make"),
    ("summary", "mboxed.steps.summary:make"),
)


def load_steps() -> list[Step]:
    """Every step of the pipeline, in order."""
    steps: list[Step] = []
    for name, target in PIPELINE:
        module_name, _, factory_name = target.partition(":")
        step = getattr(importlib.import_module(module_name), factory_name)()
        if step.name != name:
            raise RuntimeError(f"{target} built step {step.name!r}, expected {name!r}")
        steps.append(step)
    return steps
