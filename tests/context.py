"""The step Context every test world builds: a real state file under `home`,
a real Shell, plain progress lines into `out`."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from mboxed.contract import Context, Options
from mboxed.paths import Paths
from mboxed.profile import load_profile
from mboxed.shell import Shell
from mboxed.state import State
from mboxed.ui import PlainReporter


def make_context(
    home: Path,
    *,
    profile: str = "demo",
    overrides: Sequence[str] = (),
    shell_env: Mapping[str, str] | None = None,
    options: Options | None = None,
    out: io.StringIO | None = None,
    deployment: str = "default",
) -> Context:
    """`home` plays MBOXED_HOME: state, cache and bin dir live under it. The
    other locations (MBOXED_HOSTS_FILE) come from the shell's environment, as
    App reads both from one environment."""
    env = dict(os.environ if shell_env is None else shell_env)
    paths = Paths.from_env({**env, "MBOXED_HOME": str(home)})
    return Context(
        deployment=deployment,
        profile=load_profile(profile, overrides=list(overrides)).profile,
        paths=paths,
        shell=Shell(env=env),
        state=State.load(paths.state_file(deployment), deployment),
        reporter=PlainReporter(out if out is not None else io.StringIO()),
        options=options or Options(),
        profile_name=profile,
    )
