"""The puller `up` uses with a room: minikube on containerd, its node's ctr
reached through `minikube ssh` (the minikube stand-in hands the command to
a private real containerd, with the node's certs.d as `--hosts-dir`), after
the cluster step wrote the room's hosts.toml into the node. The upstream
registry is stopped before the pull: every byte comes from the room."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mboxed.contract import Options
from mboxed.images.mirror import ImageMirror, mirror_images, wanted_from_references
from mboxed.images.oci import node_platforms
from mboxed.images.pullers import puller_for
from mboxed.images.reference import parse
from tests.images.built import image, index, push
from tests.providers.world import make_world
from tests.sciencebox.registry import REGISTRY_BIN, running_registry
from tests.services import containerd as containerd_service

pytestmark = [
    pytest.mark.skipif(REGISTRY_BIN is None, reason="docker-registry not installed"),
    pytest.mark.skipif(
        containerd_service.available() is not None,
        reason=containerd_service.available() or "-",
    ),
]


def test_minikube_with_a_room_pulls_into_the_nodes_containerd_through_it(
    tmp_path: Path,
) -> None:
    with running_registry(tmp_path / "upstream", token_auth=False) as registry:
        host = registry.url.removeprefix("http://")
        app = push(registry, image("team/app", "1.0", layers=3))
        multi = push(registry, index("team/multi", "2.0"))
        refs = [f"{host}/team/app:1.0", f"{host}/team/multi:2.0"]
        room_dir = tmp_path / "mirror"
        mirror_images(
            ImageMirror(room_dir, node_platforms(["linux/amd64"])), wanted_from_references(refs)
        )
    # upstream is gone: only the room can answer from here on
    with containerd_service.running_containerd(tmp_path / "node") as node:
        env = {"MBOXED_FAKE_NODE_CONTAINERD": str(node.socket)}
        with make_world(tmp_path, options=Options(yes=True), env=env, room=True) as world:
            assert world.up().outcome == "done"  # minikube on containerd, hosts.toml written
            puller = puller_for(world.ctx)
            assert puller is not None
            assert getattr(puller, "via", "") == f"room {world.mirror}"
            assert puller.images() == []
            pulled = [puller.pull(parse(ref), lambda done, total: None) for ref in refs]
            store = puller.images()
        listed = subprocess.run(
            [*node.ctr_argv(), "images", "ls", "-q"], capture_output=True, text=True, check=True
        ).stdout.split()
    assert [p.digest for p in pulled] == [app.digest, multi.digest]
    assert sorted(listed) == sorted(refs)
    assert {i.id for i in store} == {app.digest, multi.digest}
