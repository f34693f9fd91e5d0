"""The App: what a command uses when the command line does not say."""

from __future__ import annotations

from mboxed.app import App
from mboxed.engine import Options


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
