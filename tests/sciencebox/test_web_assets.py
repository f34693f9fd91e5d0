"""cernbox-web's assets cut into ConfigMap pieces, and the init script that
joins them, run for real (sh, tar, sha256sum) on piece files in tmp, as
the projected volume presents them."""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from mboxed.sciencebox import web_assets as wa
from tests.helm import MODEL_CHART
from tests.helm import Helm as RealHelm

SH = shutil.which("sh")
pytestmark = pytest.mark.skipif(
    not (SH and shutil.which("tar") and shutil.which("sha256sum")),
    reason="needs sh, tar and sha256sum",
)


def targz(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


# Shaped like the real release files: the web build at the top level, the
# theme with an `assets/` directory (which cbox_init.sh moves).
WEB = {
    "index.html": b"<html>cernbox</html>\n",
    "js/web-runtime.js": os.urandom(3000),
    "config.json.dist": b"{}\n",
}
THEME = {
    "assets/logo.svg": b"<svg/>\n",
    "assets/fonts/a.woff": os.urandom(700),
    "theme.json": b"{}",
}


@pytest.fixture
def cached(tmp_path: Path) -> list[wa.Stored]:
    """Both files as the download cache holds them, cut into 512-byte pieces."""
    stored = []
    for asset, members in zip(wa.ASSETS, (WEB, THEME), strict=True):
        path = tmp_path / "cache" / asset.filename
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(targz(members))
        stored.append(wa.cut(asset, path, chunk=512))
    return stored


def project(stored: list[wa.Stored], src: Path) -> None:
    """Write each ConfigMap's binaryData key as kubelet's projected volume does."""
    src.mkdir()
    for item, piece in wa.all_pieces(stored):
        cm = wa.configmap(item, piece, "sciencebox")
        for key, value in cm["binaryData"].items():
            (src / key).write_bytes(base64.b64decode(value))


def run_init(stored: list[wa.Stored], src: Path, dest: Path) -> subprocess.CompletedProcess[str]:
    dest.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ["PATH"],
        "MBOXED_WEB_SRC": str(src),
        "MBOXED_WEB_DEST": str(dest),
        **{f"{s.asset.env}_SHA256": s.sha256 for s in stored},
    }
    assert SH is not None
    return subprocess.run(
        [SH, "-c", wa.init_script()], env=env, capture_output=True, text=True, timeout=60
    )


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def original_result(stored: list[wa.Stored], dest: Path) -> dict[str, bytes]:
    """What cbox_init.sh (cernbox 0.0.5 templates/web-init.yaml) leaves: both
    archives untarred into the web directory, then `assets/` moved to
    `cernbox/theme-cernbox/assets`."""
    dest.mkdir()
    for item in stored:
        with tarfile.open(item.path) as tar:
            tar.extractall(dest, filter="data")
    (dest / "cernbox" / "theme-cernbox").mkdir(parents=True)
    (dest / "assets").rename(dest / "cernbox" / "theme-cernbox" / "assets")
    return tree(dest)


def test_pieces_fit_a_configmap_and_join_to_the_file(cached: list[wa.Stored]) -> None:
    web = cached[0]
    assert len(web.pieces) > 2 and all(p.size <= 512 for p in web.pieces)
    assert (
        b"".join(
            base64.b64decode(next(iter(wa.configmap(web, p, "ns")["binaryData"].values())))
            for p in web.pieces
        )
        == web.path.read_bytes()
    )
    assert [p.name for p in web.pieces][:2] == ["mboxed-web-web-000", "mboxed-web-web-001"]
    assert wa.CHUNK + 100 < 1024 * 1024  # the API's limit on one ConfigMap


def test_the_init_script_extracts_what_the_original_script_would(
    cached: list[wa.Stored], tmp_path: Path
) -> None:
    project(cached, tmp_path / "src")
    done = run_init(cached, tmp_path / "src", tmp_path / "web")
    assert done.returncode == 0, done.stderr
    expected = original_result(cached, tmp_path / "expected")
    assert tree(tmp_path / "web") == expected
    assert "cernbox/theme-cernbox/assets/logo.svg" in expected
    assert f"web.tar.gz (sha256 {cached[0].sha256}) unpacked" in done.stdout
    # an init container that runs again in the same pod (emptyDir kept) ends the same
    again = run_init(cached, tmp_path / "src", tmp_path / "web")
    assert again.returncode == 0, again.stderr
    assert tree(tmp_path / "web") == expected


def test_a_corrupted_piece_fails_the_start_with_a_message(
    cached: list[wa.Stored], tmp_path: Path
) -> None:
    project(cached, tmp_path / "src")
    piece = tmp_path / "src" / "web.tar.gz.001"
    data = bytearray(piece.read_bytes())
    data[10] ^= 0xFF
    piece.write_bytes(bytes(data))
    done = run_init(cached, tmp_path / "src", tmp_path / "web")
    assert done.returncode != 0
    assert f"expected {cached[0].sha256}: refusing to install it" in done.stderr
    assert tree(tmp_path / "web") == {}  # nothing unpacked, no temp file left


def test_missing_pieces_fail_the_start_naming_the_configmaps(
    cached: list[wa.Stored], tmp_path: Path
) -> None:
    project(cached, tmp_path / "src")
    for piece in (tmp_path / "src").glob("theme-cernbox.tar.gz.*"):
        piece.unlink()
    done = run_init(cached, tmp_path / "src", tmp_path / "web")
    assert done.returncode != 0
    assert "pieces of theme-cernbox.tar.gz missing" in done.stderr
    assert "mboxed-web-*" in done.stderr


def test_changes_write_what_differs_and_delete_what_is_no_longer_needed(
    cached: list[wa.Stored],
) -> None:
    docs = [wa.configmap(s, p, "ns") for s, p in wa.all_pieces(cached)]
    assert wa.changes(cached, docs) == wa.Changes((), (), len(docs))
    stale = dict(docs[1], metadata={**docs[1]["metadata"], "annotations": {wa.CHUNK_SHA: "x"}})
    extra = dict(docs[0], metadata={**docs[0]["metadata"], "name": "mboxed-web-web-999"})
    foreign = {"metadata": {"name": "mboxed-web-web-998", "labels": {}}}
    change = wa.changes(cached, [docs[0], stale, *docs[2:], extra, foreign])
    assert [p.name for p in change.write] == [docs[1]["metadata"]["name"]]
    assert change.delete == ("mboxed-web-web-999",)  # never one that is not mboxed's


def test_values_name_every_configmap_and_each_file_sum(cached: list[wa.Stored]) -> None:
    values = wa.values_overlay([s.to_output() for s in cached])
    web = values["cernbox"]["cernbox-web"]
    [init] = web["initContainers"]
    assert init["image"] == "busybox:stable" and init["name"] == "cernbox-web-init"
    assert "github" not in str(init)
    env = {e["name"]: e["value"] for e in init["env"]}
    assert env == {"WEB_ASSET_SHA256": cached[0].sha256, "WEB_THEME_SHA256": cached[1].sha256}
    [projected] = [v for v in web["extraVolumes"] if v["name"] == wa.VOLUME]
    names = [s["configMap"]["name"] for s in projected["projected"]["sources"]]
    assert names == [p.name for _, p in wa.all_pieces(cached)]
    volumes = {v["name"] for v in web["extraVolumes"]}
    assert {m["name"] for m in init["volumeMounts"]} <= volumes
    # the chart's own volumes stay (a values list replaces the chart's)
    assert {"web-nginx", "web-config", "web-init", "web-content"} <= volumes


def test_real_helm_renders_the_init_container_with_no_github_url(
    real_helm: RealHelm, tmp_path: Path
) -> None:
    """Real `helm template` of the model chart with the install's values:
    cernbox-web's init container reads the ConfigMaps, every volume it
    mounts is defined, and no URL of github.com is left in the Deployment."""
    from mboxed.profile import load_profile
    from mboxed.sciencebox import allocation, render
    from mboxed.sciencebox import secrets as sb_secrets
    from mboxed.sciencebox import values as sv
    from mboxed.sciencebox.helm import Helm
    from mboxed.sciencebox.manifests import documents, missing_volumes
    from mboxed.shell import Shell
    from tests.sciencebox.context import web_assets_outputs

    profile = load_profile("demo", overrides=["hostname=box.example.org"]).profile
    users, groups = allocation.build_users(allocation.wanted_from_profile(profile.users))
    secrets = sb_secrets.complete({})
    outputs = web_assets_outputs()["assets"]
    helm = Helm(Shell(env=real_helm.env()), "default", str(real_helm.path))
    workdir = tmp_path / "work"
    workdir.mkdir(mode=0o700)

    def web_deployment(assets: list[dict[str, Any]]) -> Any:
        values = sv.build_values(
            profile, "box.example.org", secrets, users, groups, None, web_assets=assets
        )
        text = render.render_manifests(
            helm,
            release="sciencebox",
            chart=str(MODEL_CHART),
            values=values,
            postrender=render.postrender_config(profile, secrets),
            kubernetes_version="v1.31.0",
            workdir=workdir,
        )
        assert missing_volumes(text) == []
        [web] = [
            d.obj
            for d in documents(text)
            if d.kind == "Deployment" and d.obj["metadata"]["name"].endswith("cernbox-web")
        ]
        return web

    before = web_deployment([])  # the chart's own: it downloads from github.com
    assert "github.com" in str(before["spec"]["template"]["spec"]["initContainers"])
    spec = web_deployment(outputs)["spec"]["template"]["spec"]
    [init] = spec["initContainers"]
    assert "github" not in str(spec)
    assert init["image"] == "busybox:stable" and init["command"][:2] == ["/bin/sh", "-c"]
    assert init["command"][2] == wa.init_script()  # tpl left the script as it is
    assert {e["name"]: e["value"] for e in init["env"]}["WEB_ASSET_SHA256"] == "1" * 64
    [projected] = [v for v in spec["volumes"] if v["name"] == wa.VOLUME]
    assert [s["configMap"]["name"] for s in projected["projected"]["sources"]] == [
        "mboxed-web-web-000",
        "mboxed-web-web-001",
        "mboxed-web-theme-000",
    ]
