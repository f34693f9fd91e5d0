"""Step `summary`: URLs, where the credentials are, what next; printed by `up`."""

from __future__ import annotations

from pathlib import Path

import pytest

from mboxed.contract import Options
from mboxed.engine import Pipeline
from mboxed.errors import Deferred
from mboxed.sciencebox.summary import render
from mboxed.steps.summary import SummaryStep
from tests.steps.sciencebox_world import World, make_world

USERS = [
    {"name": "reva", "password": "reva", "source": "classic"},
    {"name": "einstein", "password": "relativity", "source": "classic"},
]


def world_with(tmp_path: Path, *overrides: str, port: int = 443, **kw: object) -> World:
    world = make_world(tmp_path, overrides=overrides, **kw)  # type: ignore[arg-type]
    world.record("cluster", {"hostname": "box.example.org", "https_port": port})
    world.record("tls", {"ca_cert": "/state/tls/ca.pem"})
    world.record("users", {"users": USERS})
    return world


def test_three_way_nothing_to_do_but_outputs_the_summary(tmp_path: Path) -> None:
    world = world_with(tmp_path)
    step = SummaryStep()
    plan = step.plan(world.ctx, step.facts(world.ctx))
    assert plan.empty and plan.reason == "ScienceBox is at https://box.example.org/sciencebox"
    for _ in range(2):  # nothing changes on any run
        assert Pipeline([step]).up(world.ctx)[0].outcome == "skipped"
    outputs = world.ctx.outputs("summary")
    assert outputs["urls"] == {
        "landing": "https://box.example.org/sciencebox",
        "cernbox": "https://box.example.org/",
        "swan": "https://box.example.org/swan",
        "idp": "https://box.example.org/.well-known/openid-configuration",
    }
    assert outputs["commands"]["users"] == "mboxed users list"
    assert outputs["demo_user"] == "einstein"


def test_rendered_summary_says_where_what_and_next_without_passwords(tmp_path: Path) -> None:
    world = world_with(tmp_path)
    step = SummaryStep()
    text = render(step.facts(world.ctx))
    assert "ScienceBox is up: https://box.example.org/sciencebox" in text
    assert "CERNBox  https://box.example.org/" in text
    assert "SWAN     https://box.example.org/swan" in text
    assert "Users and passwords: mboxed users list  (log in as einstein" in text
    assert "mboxed users export --format html > users.html" in text
    assert "mboxed trust" in text and "/state/tls/ca.pem" in text
    for command in ("mboxed verify", "mboxed stop", "mboxed start", "mboxed down"):
        assert command in text
    assert "relativity" not in text, "no password on screen"


def test_other_port_deployment_name_no_swan_and_trusted_ca(tmp_path: Path) -> None:
    world = world_with(
        tmp_path,
        "sciencebox.components.swan=false",
        port=8443,
        options=Options(trust=True),
    )
    world.ctx.deployment = "class-a"
    summary = SummaryStep().facts(world.ctx)
    assert summary["url"] == "https://box.example.org:8443/sciencebox"
    assert "swan" not in summary["urls"]
    assert summary["commands"]["down"] == "mboxed down --name class-a"
    assert "trust" not in summary["commands"]
    assert "Browsers will warn" not in render(summary)


def test_deferred_until_the_cluster_has_a_hostname(tmp_path: Path) -> None:
    with pytest.raises(Deferred, match="after cluster"):
        SummaryStep().facts(make_world(tmp_path).ctx)


def test_up_prints_the_summary_last(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mboxed.cli import main

    world_with(tmp_path)  # the state `up` finds (same MBOXED_HOME, tests/conftest.py)
    main(["up", "--only", "summary"])
    out = capsys.readouterr().out
    assert "↷ summary: ScienceBox is at https://box.example.org/sciencebox" in out
    assert out.rstrip().splitlines()[-1].strip().startswith("mboxed down --purge")
    assert "ScienceBox is up: https://box.example.org/sciencebox" in out
