"""Step `images`: every image of the deployment on the node before the pods
ask for it, pulled in the background while the install goes on.

facts: the render (exactly as the `sciencebox` step installs it), its
inventory, the node's image store, the recorded digests, and whether this
run's pulls are under way. plan: a pull for each image the node lacks.
apply: starts the pulls as the engine's background task `images` and
returns; `ready` awaits it. The digest each first pull resolves is recorded
(outputs `pins`, kept across `down`): later pulls, here or on another
laptop given the same pins, fetch exactly those bits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mboxed.contract import Action, BaseStep, Context, Plan
from mboxed.errors import MboxedError
from mboxed.images.inventory import Image
from mboxed.images.pull import NodeImage, NodeUnreachable, Puller
from mboxed.images.wanted import Wanted, missing, pins_from_node, recorded_pins
from mboxed.journal import JournalEntry

TASK = "images"
Render = Callable[[Context], str]
PullerFor = Callable[[Context], "Puller | None"]


@dataclass
class ImagesFacts:
    images: list[Image]
    store: list[NodeImage] = field(default_factory=list)
    pins: dict[str, str] = field(default_factory=dict)
    puller: Puller | None = None
    running: bool = False
    no_puller: str = ""


def _render(ctx: Context) -> str:
    from mboxed.images.rendered import render_manifests

    return render_manifests(ctx)


def _puller(ctx: Context) -> Puller | None:
    from mboxed.images.pullers import puller_for

    return puller_for(ctx)


class ImagesStep(BaseStep):
    name = "images"
    description = "every image on the node before it is needed, pulled alongside the install"
    # the recorded digests decide what a re-install runs: `down` keeps them
    keeps_outputs_on_down = True

    def __init__(self, render: Render = _render, puller_for: PullerFor = _puller) -> None:
        self._render = render
        self._puller_for = puller_for

    def inputs(self, ctx: Context) -> Mapping[str, Any]:
        return {
            "provider": ctx.profile.provider.name,
            "chart_digest": ctx.outputs("chart").get("digest"),
            "pins": ctx.profile.images.pins,
        }

    def facts(self, ctx: Context) -> ImagesFacts:
        from mboxed.errors import Deferred
        from mboxed.images.ingress import ingress_images
        from mboxed.images.inventory import inventory
        from mboxed.tasks import stored

        if not ctx.outputs("cluster"):
            raise Deferred("cluster")
        images = inventory(self._render(ctx), ingress_images(ctx.profile.provider.name))
        pins = recorded_pins(ctx.outputs(self.name), stored(ctx.state, TASK))
        if ctx.profile.images.pins:  # the class's digests before this laptop's own
            from mboxed.images.pins_file import read_pins

            pins.update(read_pins(ctx.profile.images.pins))
        try:
            puller = self._puller_for(ctx)
            if puller is None:
                reason = (
                    f"provider {ctx.profile.provider.name}: the cluster pulls its images itself"
                )
                return ImagesFacts(images, pins=pins, no_puller=reason)
            store = puller.images()
        except NodeUnreachable as exc:
            # a pre-pull only saves time: the pods still pull when they start
            reason = f"no pre-pull: {exc.message}; the pods pull their images when they start"
            return ImagesFacts(images, pins=pins, no_puller=reason)
        running = ctx.tasks is not None and ctx.tasks.running(TASK) is not None
        return ImagesFacts(images, store, pins_from_node(images, store, pins), puller, running)

    def plan(self, ctx: Context, facts: ImagesFacts) -> Plan:
        if facts.no_puller:
            return Plan.nothing(facts.no_puller)
        wanted = missing(facts.images, facts.store, pull_pins(facts))
        if not wanted:
            return Plan.nothing(f"all {len(facts.images)} images are on the node")
        if facts.running:
            return Plan.nothing(
                f"pulling {len(wanted)} of {len(facts.images)} images in the background; "
                "ready waits for them"
            )
        return Plan(
            [
                Action(w.summary(), kind="pull", detail={"image": w.key, "pin": w.pin})
                for w in wanted
            ]
        )

    def apply(self, ctx: Context, plan: Plan) -> Mapping[str, Any] | None:
        facts = self.facts(ctx)
        puller = facts.puller
        if puller is None or ctx.tasks is None:
            return None
        wanted = {w.key: w for w in missing(facts.images, facts.store, pull_pins(facts))}
        pins = dict(facts.pins)

        def pull(key: str, progress: Callable[[int, int], None]) -> Mapping[str, Any]:
            return pull_one(puller, wanted[key], progress)

        unit = str(getattr(puller, "progress_unit", "bytes"))
        ctx.tasks.start(TASK, {k: w.image.short for k, w in wanted.items()}, pull, unit=unit)
        ctx.progress(f"pulling {len(wanted)} images in the background")
        return {"pins": pins}

    def outputs(self, ctx: Context, facts: ImagesFacts) -> Mapping[str, Any]:
        pins = dict(facts.pins)
        task = ctx.tasks.get(TASK) if ctx.tasks is not None else None
        for key, item in (task.items if task is not None else {}).items():
            digest = item.result.get("digest")
            if digest and not key.count("@"):
                pins.setdefault(key, str(digest))
        return {"pins": pins, "images": len(facts.images)}

    def undo(self, ctx: Context, journal: Sequence[JournalEntry]) -> None:
        """Remove what a puller left on the cluster (an existing cluster's
        pre-pull DaemonSets, of a run killed mid-pull); the images stay on
        the nodes, and the recorded digests in the state."""
        super().undo(ctx, journal)
        if not ctx.outputs("cluster"):
            return
        try:
            puller = self._puller_for(ctx)
        except MboxedError:  # the cluster is gone already: nothing left on it
            return
        remove_all = getattr(puller, "remove_all", None)
        if remove_all is not None:
            with contextlib.suppress(MboxedError):
                removed = remove_all()
                if removed:
                    ctx.progress(f"removed the pre-pull DaemonSets {', '.join(removed)}")


def pull_pins(facts: ImagesFacts) -> dict[str, str]:
    """The digests a pull goes by: none for a puller that cannot point the
    pods' tag at pinned bits (an existing cluster's runtime): it pulls the
    tag, and the digest it resolves is recorded all the same."""
    return facts.pins if getattr(facts.puller, "points_tags", True) else {}


def pull_one(
    puller: Puller, wanted: Wanted, progress: Callable[[int, int], None]
) -> Mapping[str, Any]:
    """Pull one image (by its pinned digest if it has one, then tag it as
    the pods name it); the digest and size recorded for it."""
    source = wanted.source
    pulled = puller.pull(source, progress)
    ref = wanted.image.reference
    # pulled by the very tag the pods name: the node holds it under that name
    # already (and containerd has no `name@digest` to tag from)
    same_tag = not source.digest and source.tagged == ref.tagged
    if ref.tag and pulled.digest and not same_tag:
        puller.tag(source.with_digest(pulled.digest) if not source.digest else source, ref)
    # where the bits came from (a room, a bundle's room, upstream): `mboxed images`
    via = str(getattr(puller, "via", "upstream"))
    return {"digest": pulled.digest, "size": pulled.size, "via": via}


def make() -> ImagesStep:
    return ImagesStep()
