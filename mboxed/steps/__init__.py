"""The pipeline's steps, in order (DESIGN §1).

Each entry names a step and the factory that builds it ("module:function").
A step whose module is not in this build yet is listed as missing, so commands
can say plainly what is not there instead of pretending.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from mboxed.engine import Step

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
    ("secrets", "mboxed.steps.secrets:make"),
    ("tls", "mboxed.steps.tls:make"),
    ("users", "mboxed.steps.users:make"),
    ("sciencebox", "mboxed.steps.sciencebox:make"),
    ("ready", "mboxed.steps.ready:make"),
    ("verify", "mboxed.steps.verify:make"),
    ("summary", "mboxed.steps.summary:make"),
)


@dataclass(frozen=True)
class LoadedSteps:
    steps: list[Step]
    missing: list[str]


def load_steps() -> LoadedSteps:
    steps: list[Step] = []
    missing: list[str] = []
    for name, target in PIPELINE:
        module_name, _, factory_name = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            missing.append(name)
            continue
        factory = getattr(module, factory_name, None)
        if factory is None:
            missing.append(name)
            continue
        step = factory()
        if step.name != name:
            raise RuntimeError(f"{target} built step {step.name!r}, expected {name!r}")
        steps.append(step)
    return LoadedSteps(steps, missing)
