"""Step `web-assets` against the Kubernetes API stand-in: the files' pieces
become ConfigMaps (journaled), a second `up` changes nothing, a changed file
rewrites only what differs, and `down` deletes them."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mboxed.contract import Context
from mboxed.engine import Pipeline
from mboxed.sciencebox import web_assets as wa
from mboxed.steps.web_assets import CREATED, WebAssetsStep
from tests.fakes.kube_api import KubeAPIServer
from tests.sciencebox.context import make_ctx, record

NAMESPACE = "default"  # the demo profile's


class Cache:
    """The download cache as the step sees it: empty until it downloads."""

    def __init__(self, files: dict[str, bytes], root: Path) -> None:
        self.files, self.root, self.downloads = files, root, 0

    def __call__(self, ctx: Context, asset: wa.WebAsset, download: bool) -> Path | None:
        path = self.root / asset.filename
        if not path.exists() and download:
            self.root.mkdir(exist_ok=True)
            path.write_bytes(self.files[asset.name])
            self.downloads += 1
        return path if path.exists() else None


@pytest.fixture
def api() -> Iterator[KubeAPIServer]:
    with KubeAPIServer() as server:
        yield server


def world(tmp_path: Path, api: KubeAPIServer, created: bool = False) -> Context:
    ctx = make_ctx(tmp_path)
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    record(
        ctx,
        "cluster",
        {"context": "fake", "kubeconfig": str(kubeconfig), "created_by_mboxed": created},
    )
    return ctx


def stored_files(api: KubeAPIServer) -> dict[str, bytes]:
    """Each file joined back from the ConfigMaps, as the init script joins them."""
    pieces: dict[str, bytes] = {}
    for cm in api.objects("ConfigMap", NAMESPACE):
        for key, value in (cm.get("binaryData") or {}).items():
            pieces[key] = base64.b64decode(value)
    files: dict[str, bytes] = {}
    for key in sorted(pieces):
        name = key.rsplit(".", 1)[0]
        files[name] = files.get(name, b"") + pieces[key]
    return files


def up(ctx: Context, step: WebAssetsStep) -> str:
    return Pipeline([step], retry_wait=0).up(ctx)[0].outcome


def test_up_stores_the_pieces_then_changes_nothing_then_only_what_differs_and_down(
    tmp_path: Path, api: KubeAPIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wa, "CHUNK", 4096)
    web, theme = os.urandom(10_000), os.urandom(1000)
    cache = Cache({"web": web, "theme": theme}, tmp_path / "cache")
    ctx = world(tmp_path, api)
    step = WebAssetsStep(fetch=cache)

    plan = step.plan(ctx, step.facts(ctx))
    assert "download web.tar.gz, theme-cernbox.tar.gz from github.com" in plan.actions[0].summary
    assert cache.downloads == 0  # a plan downloads nothing

    assert up(ctx, step) == "done"
    assert stored_files(api) == {"web.tar.gz": web, "theme-cernbox.tar.gz": theme}
    names = sorted(cm["metadata"]["name"] for cm in api.objects("ConfigMap", NAMESPACE))
    assert names == [
        "mboxed-web-theme-000",
        "mboxed-web-web-000",
        "mboxed-web-web-001",
        "mboxed-web-web-002",
    ]
    assert sorted(e.data["name"] for e in ctx.journal("web-assets") if e.kind == CREATED) == names
    out = ctx.outputs("web-assets")
    assert [a["sha256"] for a in out["assets"]] == [
        wa.cut(a, tmp_path / "cache" / a.filename).sha256 for a in wa.ASSETS
    ]
    versions = {
        cm["metadata"]["name"]: cm["metadata"]["resourceVersion"]
        for cm in api.objects("ConfigMap", NAMESPACE)
    }

    # a second up: nothing written, nothing downloaded
    assert up(ctx, step) == "skipped"
    assert cache.downloads == 2
    again = {
        cm["metadata"]["name"]: cm["metadata"]["resourceVersion"]
        for cm in api.objects("ConfigMap", NAMESPACE)
    }
    assert again == versions

    # a new web file, one piece shorter and its last piece different
    (tmp_path / "cache" / "web.tar.gz").write_bytes(web[:8000] + b"changed")
    assert up(ctx, step) == "done"
    assert stored_files(api)["web.tar.gz"] == web[:8000] + b"changed"
    now = {
        cm["metadata"]["name"]: cm["metadata"]["resourceVersion"]
        for cm in api.objects("ConfigMap", NAMESPACE)
    }
    assert "mboxed-web-web-002" not in now
    assert now["mboxed-web-web-000"] == versions["mboxed-web-web-000"]  # kept as it was
    assert now["mboxed-web-web-001"] != versions["mboxed-web-web-001"]

    # another object in the namespace is never touched; down deletes ours
    api.add(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "theirs", "namespace": NAMESPACE},
        }
    )
    Pipeline([step], retry_wait=0).down(ctx)
    assert [cm["metadata"]["name"] for cm in api.objects("ConfigMap", NAMESPACE)] == ["theirs"]


def test_a_profile_without_cernbox_stores_nothing(tmp_path: Path, api: KubeAPIServer) -> None:
    ctx = make_ctx(
        tmp_path,
        overrides=["sciencebox.components.cernbox=false", "sciencebox.components.swan=false"],
    )
    step = WebAssetsStep(fetch=Cache({}, tmp_path / "cache"))
    plan = step.plan(ctx, step.facts(ctx))
    assert plan.empty and "cernbox component is off" in plan.reason
