"""minikube's preload from the room into minikube's own cache, where
minikube v1.34.0 looks for it (MINIKUBE_HOME/cache/preloaded-tarball/), so
that `minikube start` downloads nothing: checked against the sha256 the room
recorded, placed atomically, a second run asks the room nothing; a room
that lies is refused, a room or bundle without it is named. Then the
cluster step: the plan line, the file in place before the (fake) minikube
starts with upstream unreachable, journaled and kept by `down`."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from mboxed.bundle import serve_bundle, write_bundle
from mboxed.contract import Options
from mboxed.download_failures import DownloadError
from mboxed.errors import MboxedError
from mboxed.mirror_server import serve_directory
from mboxed.providers.minikube_output import MinikubeError
from mboxed.providers.minikube_preload import (
    RoomPreload,
    cached_tarball,
    minikube_home,
    tarball_name,
)
from tests.preload import HOST_ARCH, K8S, room_path, seed_preload
from tests.providers.world import make_world

NAME = f"preloaded-images-k8s-v18-{K8S}-containerd-overlay2-{HOST_ARCH}.tar.lz4"


def test_names_and_minikube_home_as_minikube_makes_them(tmp_path: Path) -> None:
    assert tarball_name(K8S, "arm64") == (
        "preloaded-images-k8s-v18-v1.31.0-containerd-overlay2-arm64.tar.lz4"
    )
    assert tarball_name(K8S, "amd64", "crio") == (
        "preloaded-images-k8s-v18-v1.31.0-cri-o-overlay-amd64.tar.lz4"
    )
    home = {"HOME": str(tmp_path)}
    assert minikube_home(home) == tmp_path / ".minikube"
    given = tmp_path / "mk"
    assert minikube_home({**home, "MINIKUBE_HOME": str(given)}) == given
    (given / ".minikube").mkdir(parents=True)  # the legacy layout, when it exists
    assert minikube_home({**home, "MINIKUBE_HOME": str(given)}) == given / ".minikube"
    named = tmp_path / "x" / ".minikube"
    assert minikube_home({"MINIKUBE_HOME": str(named)}) == named
    assert cached_tarball({"MINIKUBE_HOME": str(named)}, K8S, HOST_ARCH) == (
        named / "cache" / "preloaded-tarball" / NAME
    )


def preload_from(room: str, tmp_path: Path, bundle: bool = False) -> RoomPreload:
    env = {"MINIKUBE_HOME": str(tmp_path / "minikube")}
    return RoomPreload(room, K8S, HOST_ARCH, env, tmp_path / "cache", "demo", bundle=bundle)


def test_the_room_preload_lands_in_minikubes_cache_once(tmp_path: Path) -> None:
    body = seed_preload(tmp_path / "room")
    lines: list[str] = []
    with serve_directory(tmp_path / "room", "127.0.0.1", 0) as room:
        preload = preload_from(room.url(), tmp_path)
        assert preload.missing()
        placed = preload.install(lines.append)
        asked = len(room.stats.requests)
        assert placed == tmp_path / "minikube" / "cache" / "preloaded-tarball" / NAME
        assert placed.read_bytes() == body
        assert not [p for p in placed.parent.iterdir() if p.name != NAME]  # no temp files left
        # minikube's MD5 `.checksum` file is not written: minikube reads it only
        # right after its own download (preload.go ensureChecksumValid)
        again = preload_from(room.url(), tmp_path)
        assert not again.missing()
        assert again.install(lines.append) is None
        assert len(room.stats.requests) == asked  # nothing asked the second time
    assert lines == []


def test_a_room_whose_file_is_not_its_recorded_sum_is_refused(tmp_path: Path) -> None:
    seed_preload(tmp_path / "room", sha256=hashlib.sha256(b"another").hexdigest())
    with (
        serve_directory(tmp_path / "room", "127.0.0.1", 0) as room,
        pytest.raises(DownloadError, match=rf"checksum mismatch for .*{NAME}"),
    ):
        preload_from(room.url(), tmp_path).install(print)
    assert not (tmp_path / "minikube" / "cache" / "preloaded-tarball" / NAME).exists()


def test_a_room_without_the_preload_is_named(tmp_path: Path) -> None:
    (tmp_path / "room").mkdir()
    lines: list[str] = []
    with serve_directory(tmp_path / "room", "127.0.0.1", 0) as room:
        # a bundle: no network behind it, minikube could not start
        with pytest.raises(MboxedError) as raised:
            preload_from(room.url(), tmp_path, bundle=True).install(lines.append)
        assert NAME in raised.value.message
        assert "mboxed mirror DIR --profile demo" in raised.value.hint
        # a room: the laptop is online, minikube downloads it itself (said)
        assert preload_from(room.url(), tmp_path).install(lines.append) is None
    assert NAME in lines[0] and "mboxed mirror DIR --profile demo" in lines[0]
    assert "storage.googleapis.com" in lines[0]


def test_a_bundle_carries_the_preload_and_serves_it(tmp_path: Path) -> None:
    body = seed_preload(tmp_path / "room")
    rel = room_path()
    bundle = tmp_path / "sb.tar"
    manifest = write_bundle(
        bundle, tmp_path / "room", [rel, rel + ".sha256"], profile="demo", platforms=["linux/amd64"]
    )
    member = manifest["members"][f"room/{rel}"]
    assert member == {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
    served = serve_bundle(bundle, tmp_path / "marker", "127.0.0.1", platform="linux/amd64")
    try:
        placed = preload_from(served.url(), tmp_path, bundle=True).install(print)
    finally:
        served.stop()
    assert placed is not None and placed.read_bytes() == body


def test_the_cluster_step_puts_the_preload_first_and_down_keeps_it(tmp_path: Path) -> None:
    offline = {"MBOXED_FAKE_NO_UPSTREAM": "1"}  # upstream unreachable for minikube
    with make_world(tmp_path, env=offline, options=Options(yes=True), room=True) as world:
        body = seed_preload(world.tmp / "mirror")
        planned = world.plan()
        assert planned.plan is not None
        summaries = [a.summary for a in planned.plan.actions]
        assert summaries[0].startswith("load gcr.io/k8s-minikube/kicbase:v0.0.45 from the room")
        assert summaries[1] == f"put minikube's preload for {K8S} into its cache from the room"
        assert summaries[2].startswith("create minikube cluster")
        assert world.up().outcome == "done"
        cached = tmp_path / "minikube-home" / "cache" / "preloaded-tarball" / NAME
        assert cached.read_bytes() == body
        profile = world.tool_state("minikube")["profiles"]["mboxed"]
        assert profile["preload"] == str(cached) and profile["runtime"] == "containerd"
        assert [e.data for e in world.ctx.journal("cluster") if e.kind == "minikube_preload"] == [
            {"path": str(cached)}
        ]
        world.down()
        assert "mboxed" not in world.tool_state("minikube")["profiles"]
        assert cached.read_bytes() == body  # minikube's cache: kept, as `minikube delete` does


def test_without_the_preload_an_offline_minikube_fails_as_the_real_one(tmp_path: Path) -> None:
    """The fake models minikube v1.34.0 offline: no cached preload, no remote
    one, then kubelet from dl.k8s.io fails (K8S_INSTALL_FAILED, exit 100)."""
    kicbase = "gcr.io/k8s-minikube/kicbase:v0.0.45"  # in the cache: only the preload lacks
    kic_cache = tmp_path / "minikube-home" / "cache" / "kic" / HOST_ARCH / "kicbase_v0.0.45.tar"
    kic_cache.parent.mkdir(parents=True)
    with tarfile.open(kic_cache, "w") as tar:
        entry = json.dumps([{"Config": "c.json", "RepoTags": [kicbase], "Layers": []}]).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(entry)
        tar.addfile(info, io.BytesIO(entry))
    offline = {"MBOXED_FAKE_NO_UPSTREAM": "1", "MBOXED_FAKE_KICBASE": kicbase}
    no_room = make_world(tmp_path, env=offline, options=Options(yes=True))  # files only
    with (
        no_room as world,
        pytest.raises(MinikubeError, match=r"lookup dl\.k8s\.io.*K8S_INSTALL_FAILED, exit 100"),
    ):
        world.up()
