"""The App: what a command uses when the command line does not say."""

from __future__ import annotations

from pathlib import Path

from mboxed.app import App
from mboxed.contract import Options


def test_profile_and_mirror_of_the_last_up_are_remembered() -> None:
    first = App(profile_ref="workshop", overrides=("provider.cpus=2",), options=Options(
        mirror="http://127.0.0.1:8080"
    ))  # fmt: skip
    first.remember_profile()
    first.state.save()

    later = App()  # e.g. `mboxed start`: no --profile, no --mirror
    assert later.profile_args() == ("workshop", [], ["provider.cpus=2"])
    ctx = later.context()
    assert ctx.options.mirror == "http://127.0.0.1:8080"
    assert ctx.profile.provider.cpus == 2

    upstream = App(options=Options(mirror="none"))
    assert upstream.context().options.mirror is None
    upstream.remember_profile()
    upstream.state.save()
    assert App().context().options.mirror is None


def test_a_fresh_deployment_uses_demo_and_no_mirror() -> None:
    app = App()
    assert app.profile_args() == ("demo", [], [])
    assert app.context().options.mirror is None
    assert not app.state.exists


def test_set_and_f_without_profile_add_to_what_the_last_up_used(tmp_path: Path) -> None:
    room = tmp_path / "room.yaml"
    room.write_text("version: 1\nprovider: {cpus: 3}\n")
    first = App(profile_ref="workshop", files=(str(room),), overrides=("hostname=box.example.org",))
    first.remember_profile()
    first.state.save()

    # a later `mboxed up --set users.generate.count=40` keeps room.yaml and the hostname
    later = App(overrides=("users.generate.count=40", "hostname=other.example.org"))
    assert later.profile_args() == (
        "workshop",
        [str(room)],
        ["users.generate.count=40", "hostname=other.example.org"],
    )
    profile = later.context().profile
    assert (profile.provider.cpus, profile.users.generate.count) == (3, 40)
    assert profile.hostname == "other.example.org"

    # --profile starts over: only what this command line gives
    fresh = App(profile_ref="demo", overrides=("provider.cpus=2",))
    assert fresh.profile_args() == ("demo", [], ["provider.cpus=2"])


def test_the_pipeline_has_every_step_of_the_table_in_order() -> None:
    from mboxed.steps import PIPELINE

    assert [step.name for step in App().pipeline().steps] == [name for name, _ in PIPELINE]
