"""Step `chart`: the pinned ScienceBox chart, pulled once into the cache.

The chart is an OCI artifact (oci://registry.cern.ch/sciencebox/charts/sciencebox
since April 2023; sciencebox/charts README "Chartmuseum deprecation notice").
A published chart tgz carries its dependencies, so no HTTP chart repositories
need adding. Later steps install from the cached file, so `up` needs the
registry only the first time. A local chart (`sciencebox.chart` a directory
or .tgz; mboxed.sciencebox.chart_source) is used as is: nothing is pulled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mboxed.contract import Action, BaseStep, Context, Plan
from mboxed.sciencebox.chart import ChartCache, ChartRef, PulledChart, pull_chart
from mboxed.sciencebox.chart_source import LocalChart, is_local
from mboxed.sciencebox.chart_source import cache_dir as charts_dir


def chart_ref(ctx: Context) -> ChartRef:
    return ChartRef.parse(ctx.profile.sciencebox.chart, ctx.profile.sciencebox.version)


def cache_dir(ctx: Context) -> Path:
    return charts_dir(ctx.paths.cache_root)


@dataclass(frozen=True)
class ChartFacts:
    ref: ChartRef | None
    cached: PulledChart | None
    local: LocalChart | None = None


def plan_chart(facts: ChartFacts, mirror: str | None = None) -> Plan:
    if facts.local is not None:
        return Plan.nothing(
            f"use the local chart {facts.local.path} as is "
            f"({facts.local.name} {facts.local.version}; no pull, no digest check)"
        )
    assert facts.ref is not None
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
        if is_local(ctx.profile.sciencebox.chart):
            return ChartFacts(None, None, LocalChart.read(ctx.profile.sciencebox.chart))
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
        if facts.local is not None:
            return facts.local.as_outputs()
        return facts.cached.as_outputs() if facts.cached is not None else {}


def make() -> ChartStep:
    return ChartStep()
