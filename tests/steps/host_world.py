"""A world for the host-side steps (preflight, packages, docker, tools): a real
state file, a real Shell whose PATH holds only what the test puts there
(symlinks in a bin dir, fakes from tests/fakes/bin), paths under tmp_path."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mboxed.contract import Context, Options
from mboxed.engine import Pipeline, StepResult
from tests.context import make_context

FAKE_BIN = Path(__file__).resolve().parent.parent / "fakes" / "bin"


@dataclass
class HostWorld:
    ctx: Context
    root: Path
    bin: Path  # on the shell's PATH
    fake_state: Path
    out: io.StringIO

    def link(self, name: str, target: str | Path) -> Path:
        """Put `target` on PATH as `name`."""
        link = self.bin / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)
        return link

    def fake(self, name: str) -> Path:
        return self.link(name, FAKE_BIN / name)

    def fake_json(self, name: str) -> dict[str, Any]:
        path = self.fake_state / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def seed(self, name: str, state: Mapping[str, Any]) -> None:
        (self.fake_state / f"{name}.json").write_text(json.dumps(state))

    def up(self, step: Any, *, dry_run: bool = False) -> StepResult:
        """Run `step` through the real engine (plan only with dry_run)."""
        self.ctx.options.dry_run = dry_run
        try:
            (result,) = Pipeline([step], retry_attempts=1).up(self.ctx)
        finally:
            self.ctx.options.dry_run = False
        return result

    def three_way(self, step: Any) -> tuple[StepResult, StepResult, StepResult]:
        """Plan on a fresh world, apply (the engine checks it converged), apply again."""
        return self.up(step, dry_run=True), self.up(step), self.up(step)


def make_world(
    tmp_path: Path,
    *,
    overrides: Sequence[str] = (),
    profile: str = "demo",
    env: Mapping[str, str] | None = None,
    options: Options | None = None,
    system_path: bool = False,
) -> HostWorld:
    """PATH = <tmp>/bin (python3 linked in, for the fakes), plus the system's
    PATH only when `system_path`."""
    root = tmp_path / "world"
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True)
    fake_state = root / "fake-state"
    fake_state.mkdir()
    # The interpreter itself (not a pyenv shim, which needs bash on PATH).
    (bin_dir / "python3").symlink_to(Path(sys.executable).resolve())
    path = str(bin_dir) + (os.pathsep + os.environ.get("PATH", "") if system_path else "")
    shell_env = {
        **{k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "SUDO_USER")},
        "PATH": path,
        "MBOXED_FAKE_STATE": str(fake_state),
        **(env or {}),
    }
    out = io.StringIO()
    ctx = make_context(
        root / "mboxed-home",
        profile=profile,
        overrides=overrides,
        shell_env=shell_env,
        options=options,
        out=out,
    )
    return HostWorld(ctx, root, bin_dir, fake_state, out)
