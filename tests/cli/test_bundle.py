"""`mboxed bundle FILE` as a user runs it (a real `python -m mboxed`): the
room is filled from a real registry, then streamed into one tar whose
manifest lists the sha256 of every member."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

from mboxed.bundle import MANIFEST
from mboxed.profile import load_profile
from mboxed.sciencebox.chart import ChartRef
from tests.cli.test_doctor import mboxed
from tests.cli.test_mirror import web_assets_tree
from tests.images.built import image, push
from tests.preload import room_path, seed_preload
from tests.sciencebox.registry import chart_tgz, running_registry


def test_bundle_streams_the_room_with_a_sha256_per_member(tmp_path: Path) -> None:
    sb = load_profile("demo").profile.sciencebox
    ref = ChartRef.parse(sb.chart, sb.version)
    room = tmp_path / "room"
    out = tmp_path / "sb.tar"
    with running_registry(tmp_path / "upstream", token_auth=False) as registry:
        registry.push_chart(ref.repository, ref.tag, chart_tgz("sciencebox", sb.version))
        built = push(registry, image("sciencebox/app", "1.0", layers=3))
        upstream = registry.url.removeprefix("http://")
        common = ("--tools", "none", "--images", "none", "--room", str(room))
        # minikube's preload, as `mboxed mirror` stored it from upstream (see
        # tests/test_mirror_preload.py): kept, and bundled for linux/amd64 only
        preloads = {arch: seed_preload(room, arch) for arch in ("amd64", "arm64")}
        # the chart from a stand-in mirror first, then the image from its registry
        web_assets_tree(room)  # the registry stand-in serves no files
        seeded = mboxed("mirror", str(room), "--tools", "none", "--images", "none",
                        "--mirror", registry.url)  # fmt: skip
        assert seeded.returncode == 0, seeded.stderr
        result = mboxed("bundle", str(out), "--platform", "linux/amd64", *common,
                        "--image", f"{upstream}/{built.name}:1.0")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"install offline: mboxed up --profile demo --bundle {out}" in result.stdout
    with tarfile.open(out) as tar:
        manifest = json.load(tar.extractfile(MANIFEST))  # type: ignore[arg-type]
        for name, entry in manifest["members"].items():
            data = tar.extractfile(name).read()  # type: ignore[union-attr]
            assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
    names = set(manifest["members"])
    assert f"room/v2/{ref.repository}/manifests/{ref.tag}" in names
    namespace = upstream.replace(":", "_")
    assert f"room/v2/{namespace}/{built.name}/manifests/1.0" in names
    # cernbox-web's assets and the sums recorded for them travel too
    for path in (
        "cernbox/web-release/releases/download/v0.0.9/web.tar.gz",
        "cernbox/web-extensions/releases/download/theme-cernbox/v0.1.7/theme-cernbox.tar.gz",
    ):
        assert {f"room/{path}", f"room/{path}.sha256"} <= names
    assert manifest["platforms"] == ["linux/amd64"] and manifest["profile"] == "demo"
    preload = manifest["members"][f"room/{room_path('amd64')}"]
    assert preload["sha256"] == hashlib.sha256(preloads["amd64"]).hexdigest()
    assert f"room/{room_path('amd64')}.sha256" in names
    assert f"room/{room_path('arm64')}" not in names
