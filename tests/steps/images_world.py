"""A world for the `images` step: a real private dockerd as the node's
image store, a real registry on loopback with images built here, and a
render that names them (the step's render and puller are injected)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mboxed.contract import Context
from mboxed.images.docker_pull import DockerPuller, client_for
from mboxed.images.pull import Progress, Pulled
from mboxed.images.reference import Reference
from mboxed.steps.images import ImagesStep
from tests.context import make_context


def manifest(images: Sequence[str]) -> str:
    """A rendered stream with one Deployment per image."""
    docs = []
    for n, image in enumerate(images):
        docs.append(
            "---\n# Source: sciencebox/templates/d.yaml\napiVersion: apps/v1\nkind: Deployment\n"
            f"metadata: {{name: d{n}}}\nspec:\n  template:\n    spec:\n      containers:\n"
            f"        - {{name: c, image: {image!r}, imagePullPolicy: IfNotPresent}}\n"
        )
    return "".join(docs)


@dataclass
class CountingPuller(DockerPuller):
    """The real DockerPuller, remembering what it was asked to pull."""

    client: Any = None
    pulls: list[str] = field(default_factory=list)

    def pull(self, reference: Reference, progress: Progress) -> Pulled:
        self.pulls.append(str(reference))
        return super().pull(reference, progress)


def context(home: Path, out: io.StringIO | None = None, overrides: Sequence[str] = ()) -> Context:
    # provider `existing`: no ingress images of mboxed's to pull (they live on
    # registry.k8s.io); the puller is the test's own
    base = ["hostname=box.example.org", "provider.name=existing", "provider.context=test"]
    ctx = make_context(home, overrides=[*base, *overrides], out=out)
    ctx.state.step("cluster").data.update(status="done", outputs={"provider": "existing"})
    return ctx


def step(images: Sequence[str], docker_host: str) -> tuple[ImagesStep, CountingPuller]:
    puller = CountingPuller(client_for({"DOCKER_HOST": docker_host}))
    text = manifest(images)
    return ImagesStep(render=lambda ctx: text, puller_for=lambda ctx: puller), puller
