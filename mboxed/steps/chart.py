"""Step `chart`: the pinned ScienceBox chart, pulled once into the cache.

The chart is an OCI artifact (oci://registry.cern.ch/sciencebox/charts/sciencebox
since April 2023; sciencebox/charts README "Chartmuseum deprecation notice").
A published chart tgz carries its dependencies, so no HTTP chart repositories
need adding. Later steps install from the cached file, so `up` needs the
registry only the first time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mboxed.engine import Action, BaseStep, Context, Plan
from mboxed.sciencebox.chart import ChartCache, ChartRef, PulledChart, pull_chart


def chart_ref(ctx: Context) -> ChartRef:
    return ChartRef.parse(ctx.profile.sciencebox.chart, ctx.profile.sciencebox.version)


def cache_dir(ctx: Context) -> Path:
    return Path(ctx.paths.cache_root) / "charts"


@dataclass(frozen=True)
class ChartFacts:
    ref: ChartRef
    cached: PulledChart | None


def plan_chart(facts: ChartFacts, mirror: str | None = None) -> Plan:
    if facts.cached is not None:
        short = facts.cached.digest.partition(":")[2][:12]
        return Plan.nothing(f"{facts.ref.url}:{facts.ref.tag} already cached (sha256:{short}…)")
    source = facts.ref.base_url(mirror)
    return Plan(
        [
            Action(
                f"pull {facts.ref.url}:{facts.ref.tag} from {source} into the cache",
                kind="pull",
                detail={"ref": facts.ref.url, "tag": facts.ref.tag, "from": source},
            )
        ]
    )


class ChartStep(BaseStep):
    name = "chart"
    description = "the pinned ScienceBox chart, pulled once into the cache"

    def inputs(self, ctx: Context) -> Mapping[str, Any]:
        return {"chart": ctx.profile.sciencebox.chart, "version": ctx.profile.sciencebox.version}

    def facts(self, ctx: Context) -> ChartFacts:
        ref = chart_ref(ctx)
        return ChartFacts(ref, ChartCache(cache_dir(ctx)).lookup(ref))

    def plan(self, ctx: Context, facts: ChartFacts) -> Plan:
        return plan_chart(facts, ctx.options.mirror)

    def apply(self, ctx: Context, plan: Plan) -> Mapping[str, Any] | None:
        ref = chart_ref(ctx)
        ctx.progress(f"pulling {ref.url}:{ref.tag}")
        pulled = pull_chart(ref, cache_dir(ctx), mirror=ctx.options.mirror)
        return pulled.as_outputs()

    def outputs(self, ctx: Context, facts: ChartFacts) -> Mapping[str, Any]:
        return facts.cached.as_outputs() if facts.cached is not None else {}


def make() -> ChartStep:
    return ChartStep()
