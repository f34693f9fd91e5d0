"""`mboxed render` as a user runs it: a real `python -m mboxed` process, real
Helm v3.17.3, the project's model chart as a local chart; no cluster."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import yaml

from mboxed.sciencebox import secrets as sb_secrets
from mboxed.sciencebox.manifests import documents
from tests.cli.run import mboxed, state_file, tree
from tests.helm import MODEL_CHART, Helm

HOST = "box.example.org"


def helm_env(helm: Helm) -> dict[str, str]:
    return {**helm.env(), "PATH": f"{helm.path.parent}{os.pathsep}{os.environ['PATH']}"}


def test_render_before_up_writes_nothing_and_masks_secrets(real_helm: Helm) -> None:
    home = Path(os.environ["MBOXED_HOME"])
    before = tree(home)
    args = ("render", "--set", f"hostname={HOST}", "--set", f"sciencebox.chart={MODEL_CHART}")
    result = mboxed(*args, env=helm_env(real_helm))
    assert result.returncode == 0, result.stderr
    assert "# NOTE: nothing was written" in result.stdout
    assert "secrets masked as <masked>" in result.stdout
    docs = documents(result.stdout)
    assert {d.kind for d in docs} >= {"StatefulSet", "Secret", "Ingress", "ConfigMap"}
    (secret,) = [d.obj for d in docs if d.kind == "Secret" and "stringData" in d.obj]
    assert set(secret["stringData"].values()) == {"<masked>"}
    assert 'jwt_secret = "<masked>"' in result.stdout and "POZSOrl" not in result.stdout
    assert tree(home) == before and not state_file().exists()


def test_render_to_a_file_after_up_uses_the_stored_secrets(real_helm: Helm, tmp_path: Path) -> None:
    sets = ("--set", f"hostname={HOST}", "--set", f"sciencebox.chart={MODEL_CHART}")
    up = mboxed(
        "up", *sets, "--only", "secrets", "--only", "tls", "--only", "users", "--yes",
    )  # fmt: skip
    assert up.returncode == 0, up.stderr
    stored = yaml.safe_load(state_file().read_text())["steps"]["secrets"]["outputs"]
    out = tmp_path / "manifests.yaml"
    env = helm_env(real_helm)
    shown = mboxed("render", "-o", str(out), "--show-secrets", env=env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"wrote {out} (")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    text = out.read_text()
    assert f'jwt_secret = "{stored["reva_jwt_secret"]}"' in text
    assert "# WARNING: secrets shown in clear" in text
    masked = mboxed("render", env=env)
    assert masked.returncode == 0, masked.stderr
    assert not any(s in masked.stdout for s in sb_secrets.secret_values(stored))


def test_render_says_what_is_missing(real_helm: Helm) -> None:
    env = helm_env(real_helm)
    auto = mboxed("render", "--set", f"sciencebox.chart={MODEL_CHART}", env=env)
    assert auto.returncode != 0 and "mboxed render --set hostname=" in auto.stderr
    uncached = mboxed("render", "--set", f"hostname={HOST}", env=env)
    assert uncached.returncode != 0
    assert "is not in the cache yet" in uncached.stderr
    assert "mboxed up --only chart" in uncached.stderr
