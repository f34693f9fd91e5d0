"""The offline round trip in the end-to-end world: a bundle made from a room
on loopback, the room ("upstream") stopped, then `mboxed up --bundle FILE`
to `ready` and verify, every image landing in the node's image store from
the bundle; a second `up --bundle` moves nothing; a corrupt bundle before
that leaves nothing taken as done.

The world (tests/end_to_end_world.py): the minikube and helm stand-ins, the
Kubernetes API stand-in, a PRIVATE dockerd (DOCKER_HOST: the docker step
finds it running and changes nothing), a private containerd as the node's
image store (the minikube stand-in hands `minikube ssh -- sudo ctr` to it,
with the hosts.toml mboxed wrote into the node), the hosts file under the
test's tmp dir, the ingress on 127.0.0.7:443. Nothing of the host is
touched. The network guard is on (tests/conftest.py).

What this world cannot hold: minikube's ingress addon images are pinned by
upstream digests (mboxed.images.ingress) whose bytes cannot be made here
with no network, so the bundle and the pipeline's image list leave those two
out (ingress_images patched to none); every image of the chart is in.
The tools come from PATH (the stand-ins), so the bundle holds none
(`--tools none`); the bundle's tool half is covered by tests/test_bundle.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mboxed.images.inventory import inventory
from mboxed.mirror_server import RoomServer
from mboxed.profile import load_profile
from mboxed.room_tree import DirectoryTree
from mboxed.sciencebox.chart import ChartRef
from tests.end_to_end_world import EndToEnd, end_to_end, host_ready, up_bundle
from tests.helm import model_chart_tgz
from tests.images.built import Built, image, store
from tests.preload import preload_bytes, seed_preload
from tests.services import containerd as containerd_service
from tests.services import dockerd as dockerd_service

# minikube's kicbase, built here: the bundle holds it and `up --bundle` writes
# it into minikube's cache (the stand-in, offline, needs it there); pinned in
# place of upstream's digest, which cannot be built here
KICBASE = image("k8s-minikube/kicbase", "v0.0.45", layers=2)
KICBASE_REF = f"gcr.io/k8s-minikube/kicbase:v0.0.45@{KICBASE.digest}"

PROFILE = "ci"
INGRESS_IP = "127.0.0.7"  # apart from the other end-to-end tests (.1, .2, .3)
HOSTNAME = "offline.example.org"
OVERRIDES = (f"hostname={HOSTNAME}",)

WHY_NOT = (
    host_ready(
        tools=("kubectl", "dpkg-query", "setsid"),
        ingress_ip=INGRESS_IP,
        root_because=f"the ingress answers on {INGRESS_IP}:443",
    )
    or dockerd_service.available()
    or containerd_service.available()
)
pytestmark = [pytest.mark.timeout(300), pytest.mark.skipif(bool(WHY_NOT), reason=WHY_NOT or "-")]


def blob_gets(room: Any) -> list[str]:
    """The blob paths a room served by GET, in order."""
    requests = room.stats.requests
    return [path for method, path, _ in requests if method == "GET" and "/blobs/" in path]


def test_up_from_a_bundle_with_upstream_stopped_reaches_ready_and_moves_nothing_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the two digest-pinned ingress addon images cannot be built here (see above)
    monkeypatch.setattr("mboxed.images.ingress.ingress_images", lambda provider: [])
    monkeypatch.setattr("mboxed.providers.minikube.KICBASE_IMAGE", KICBASE_REF)
    with (
        dockerd_service.running_dockerd(tmp_path / "engine") as engine,
        containerd_service.running_containerd(tmp_path / "node") as node,
    ):
        extra = {
            "DOCKER_HOST": engine.host,
            "MBOXED_HOSTS_FILE": str(tmp_path / "hosts"),
            "MBOXED_FAKE_MINIKUBE_IP": INGRESS_IP,
            "MBOXED_FAKE_NODE_CONTAINERD": str(node.socket),
            # no gcr.io, storage.googleapis.com or dl.k8s.io: the stand-in starts
            # only with the kicbase and the preload in its cache (tests/fakes/bin/minikube)
            "MBOXED_FAKE_NO_UPSTREAM": "1",
            "MBOXED_FAKE_KICBASE": KICBASE_REF,
        }
        (tmp_path / "hosts").write_text("127.0.0.1 localhost\n")
        with end_to_end(tmp_path, PROFILE, extra_env=extra) as world:
            world.ingress_ip = INGRESS_IP
            try:
                run_offline(world, node, tmp_path)
            except BaseException:
                print("\n".join(world.output))
                raise
            finally:
                world.mboxed("down", check=False)


def make_bundle(world: EndToEnd, tmp_path: Path) -> tuple[Path, dict[str, Built], RoomServer]:
    """A room holding the chart (copied from the world's registry) and every
    image of the chart (built here), served on loopback as "upstream"; the
    bundle made from it. Returns (bundle, images by reference, upstream)."""
    # the model chart (tests/charts/sciencebox), whose workloads name images,
    # in place of the world's one-ConfigMap chart
    sb = load_profile(PROFILE).profile.sciencebox
    chart = ChartRef.parse(sb.chart, sb.version)
    world.registry.push_chart(chart.repository, chart.tag, model_chart_tgz(sb.version))
    registry = ("--mirror", world.registry.url)
    source = tmp_path / "upstream-room"
    # minikube's preload, as `mboxed mirror` stores it from upstream
    # (tests/test_mirror_preload.py): kept here, bundled, put in the laptop's
    # minikube cache by `up --bundle` before the minikube stand-in starts
    seed_preload(source, "amd64")
    world.mboxed(
        "mirror", str(source), "--profile", PROFILE, *registry, "--tools", "none",
        "--images", "none", "--platform", "linux/amd64",
    )  # fmt: skip
    refs = [str(i.reference) for i in inventory(render_stored_chart(world, source))]
    assert len(refs) >= 4, refs
    built: dict[str, Built] = {}
    for n, ref in enumerate(refs):
        built[ref] = image(f"img{n}", ref.rpartition(":")[2], layers=2 + n % 2)
        store(source, ref, built[ref])
    store(source, "gcr.io/k8s-minikube/kicbase:v0.0.45", KICBASE)
    upstream = RoomServer(DirectoryTree(source), "127.0.0.1", 0).start()
    bundle = tmp_path / "sciencebox.tar"
    image_args = [a for ref in [*refs, KICBASE_REF] for a in ("--image", ref)]
    world.mboxed(
        "bundle", str(bundle), "--profile", PROFILE, "--mirror", upstream.url(),
        "--tools", "none", "--images", "none", *image_args, "--platform", "linux/amd64",
        "--room", str(tmp_path / "bundle-room"), *set_args(),
    )  # fmt: skip
    shutil.rmtree(tmp_path / "bundle-room")  # the bundle is all there is
    return bundle, built, upstream


def render_stored_chart(world: EndToEnd, room: Path) -> str:
    """The chart stored in `room`, rendered as `mboxed mirror` renders it to
    list the profile's images (mboxed.cli.mirror.render_profile; the helm
    stand-in hands `template` to the real Helm)."""
    from mboxed.app import App
    from mboxed.cli.mirror import render_profile
    from mboxed.contract import Options
    from mboxed.mirror import MirrorBuilder

    app = App(profile_ref=PROFILE, overrides=OVERRIDES, options=Options(), env=world.env)
    sb = app.loaded_profile.profile.sciencebox
    builder = MirrorBuilder(room, Path(app.paths.cache_root))
    return render_profile(app, builder, ChartRef.parse(sb.chart, sb.version))


def set_args() -> list[str]:
    return [a for o in OVERRIDES for a in ("--set", o)]


def corrupt_copy(bundle: Path, dest: Path) -> str:
    """A copy of the bundle with one byte of its largest blob flipped; the
    member's name."""
    from mboxed.bundle import open_bundle

    opened = open_bundle(bundle, "linux/amd64")
    name, entry = max(
        ((n, e) for n, e in opened.entries.items() if "/blobs/" in n), key=lambda ne: ne[1].size
    )
    shutil.copyfile(bundle, dest)
    with dest.open("r+b") as handle:
        handle.seek(entry.offset + entry.size // 2)
        byte = handle.read(1)
        handle.seek(entry.offset + entry.size // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    return name


def run_offline(world: EndToEnd, node: containerd_service.Containerd, tmp_path: Path) -> None:
    bundle, built, upstream = make_bundle(world, tmp_path)
    upstream_requests = len(upstream.stats.requests)
    assert upstream_requests > 0  # the bundle was made from it
    upstream.stop()  # from here on, no upstream

    # --- 1. a corrupt bundle: refused by member before any step; nothing kept ---------
    bad = tmp_path / "corrupt.tar"
    member = corrupt_copy(bundle, bad)
    with pytest.raises(Exception, match="corrupt") as refused:
        up_bundle(world, PROFILE, bad, *OVERRIDES)
    assert member in str(refused.value)
    assert not (world.root / "mboxed-home" / "state" / "default" / "state.yaml").exists() or not [
        s for s, v in world.state().get("steps", {}).items() if v.get("status") == "done"
    ]
    assert node.image_digests() == {}
    assert world.calls("minikube") == []

    # --- 2. up --bundle: to ready and verify, every image from the bundle ---------------
    results, out, room = up_bundle(world, PROFILE, bundle, *OVERRIDES)
    outcomes = {r.name: r.outcome for r in results}
    assert "every member verified" in out, out
    for step in ("cluster", "chart", "images", "sciencebox"):
        assert outcomes[step] == "done", (step, out)
    # the stand-in's workloads are ready at once: `ready` may find nothing to wait for
    assert outcomes["ready"] in ("done", "skipped"), out
    assert outcomes["verify"] in ("done", "skipped"), out
    assert "smoke test passes" in out, out
    assert outcomes["docker"] == "skipped", out  # the private engine was found running
    store_after = node.image_digests()
    for ref, image_built in built.items():
        assert store_after.get(ref) == image_built.digest, (ref, store_after)
    # each blob crossed from the bundle once; the upstream saw nothing more
    gets = blob_gets(room)
    assert gets and len(gets) == len(set(gets)), gets
    assert len(upstream.stats.requests) == upstream_requests
    preload = world.tool("minikube")["profiles"]["mboxed"]["preload"]
    assert preload and Path(preload).read_bytes() == preload_bytes("amd64"), out
    listed = world.mboxed("images", "--json").stdout
    sources = [row["source"] for row in json.loads(listed)["images"]]
    assert any(source.endswith(f"via bundle {bundle}") for source in sources), listed

    # --- 3. a second up --bundle moves nothing --------------------------------------
    results, out, room = up_bundle(world, PROFILE, bundle, *OVERRIDES)
    outcomes = {r.name: r.outcome for r in results}
    assert "verified before, unchanged" in out, out
    assert "every member verified" not in out, out
    assert outcomes["images"] == "skipped", out
    assert blob_gets(room) == [], room.stats.requests
    assert node.image_digests() == store_after
    assert len(upstream.stats.requests) == upstream_requests
