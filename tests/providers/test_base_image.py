"""The providers' node images from the room, with the stand-ins offline
(MBOXED_FAKE_NO_UPSTREAM): kind's node image loaded into the host engine
(tests/fakes/host_engine.py) and named by its tag in the kind config,
minikube's kicbase written into its cache; planned, done once, and a room
without the image is one error naming it. The stream itself against a real
engine: tests/images/test_docker_archive.py."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from mboxed.contract import Options
from mboxed.errors import MboxedError
from mboxed.images.docker_archive import host_node_platform
from mboxed.providers import base_image
from mboxed.providers import minikube as minikube_provider
from tests.providers.world import FAKE_BIN, World, make_world


def loads(world: World) -> list[list[str]]:
    return [c for c in world.calls("kind") if c[:2] == ["docker", "load"]]


def config_digest(world: World, repository: str) -> str:
    tree = world.tmp / "mirror" / "v2" / repository
    manifest = json.loads((tree / "manifests" / "v1.31.0").read_bytes())
    return str(manifest["config"]["digest"])


def test_kind_loads_the_node_image_from_the_room_once(tmp_path: Path) -> None:
    with make_world(tmp_path, "provider.name=kind", room=True) as world:
        planned = world.plan()
        assert planned.plan is not None
        assert planned.plan.actions[0].kind == "base-image"
        assert world.up().outcome == "done"
        (image,) = world.tool_state("kind")["images"]
        assert image["tags"] == ["kindest/node:v1.31.0"]
        assert image["digests"] == []  # loaded, not pulled
        assert image["id"] == config_digest(world, "docker.io/kindest/node")
        config = yaml.safe_load(
            (world.ctx.paths.deployment_dir("default") / "kind-mboxed.yaml").read_text()
        )
        assert config["nodes"][0]["image"] == "kindest/node:v1.31.0"
        assert len(loads(world)) == 1

        assert world.up().outcome == "skipped"  # a second up moves nothing
        # a cluster made again finds the image in the engine: nothing loaded
        world.down()
        planned = world.plan()
        assert planned.plan is not None
        assert "base-image" not in [a.kind for a in planned.plan.actions]
        assert world.up().outcome == "done"
        assert len(loads(world)) == 1


def test_kind_with_a_room_that_lacks_the_node_image_says_so(tmp_path: Path) -> None:
    with make_world(tmp_path, "provider.name=kind", room=True) as world:
        shutil.rmtree(world.tmp / "mirror" / "v2" / "docker.io" / "kindest")
        with pytest.raises(MboxedError) as caught:
            world.plan()
        message = str(caught.value)
        assert "image docker.io/kindest/node:v1.31.0@sha256:" in message
        assert f"the room at {world.mirror} lacks it" in message
        assert "mboxed mirror DIR --profile P" in (caught.value.hint or "")
        assert world.tool_state("kind").get("clusters", {}) == {}


def test_the_fake_kind_fails_as_kind_does_without_the_image_offline(tmp_path: Path) -> None:
    with make_world(tmp_path, "provider.name=kind", room=True) as world:
        result = world.ctx.shell.run(["kind", "create", "cluster", "--name", "x"], check=False)
    assert result.returncode == 1
    assert " ✗ Ensuring node image (kindest/node:v1.31.0) 🖼" in result.stderr
    assert (
        'ERROR: failed to create cluster: failed to pull image "kindest/node:v1.31.0@sha256:'
        in result.stderr
    )


def kic_cache(world: World) -> Path:
    return base_image.kic_cache_path(
        world.ctx.shell.env, minikube_provider.KICBASE_IMAGE, host_node_platform().architecture
    )


def test_minikube_gets_its_kicbase_cache_from_the_room_once(tmp_path: Path) -> None:
    with make_world(tmp_path, options=Options(yes=True), room=True) as world:
        planned = world.plan()
        assert planned.plan is not None
        assert planned.plan.actions[0].summary == (
            f"load gcr.io/k8s-minikube/kicbase:v0.0.45 from the room at {world.mirror}"
        )
        assert world.up().outcome == "done"  # the stand-in, offline, found the cache file
        path = kic_cache(world)
        # MINIKUBE_HOME (set by the world) not ending in .minikube holds the cache itself
        home = Path(world.ctx.shell.env["MINIKUBE_HOME"])
        assert path.parent == home / "cache" / "kic" / host_node_platform().architecture
        written = path.stat().st_mtime_ns
        world.down()
        planned = world.plan()
        assert planned.plan is not None
        assert "base-image" not in [a.kind for a in planned.plan.actions]
        assert world.up().outcome == "done"
        assert path.stat().st_mtime_ns == written  # not written again


def test_minikube_offline_without_the_cache_fails_as_v1_34_does(tmp_path: Path) -> None:
    with make_world(tmp_path, options=Options(yes=True), room=True) as world:
        minikube = str(FAKE_BIN / "minikube")
        argv = [minikube, "start", "-p", "x", "--driver=docker", "--force"]
        env = world.ctx.shell.env
        failed = subprocess.run(argv, env=env, capture_output=True, text=True)
        assert failed.returncode == 80
        assert "Exiting due to GUEST_PROVISION" in failed.stderr
        assert "Unable to find image 'gcr.io/k8s-minikube/kicbase:v0.0.45@sha256:" in (
            failed.stderr
        )
        # a file that is not a docker-archive of the tag does not count either
        path = kic_cache(world)
        path.parent.mkdir(parents=True)
        path.write_bytes(b"not a tar")
        argv[3] = "y"  # a profile not created yet (the failed one stays, as minikube's does)
        failed = subprocess.run(argv, env=env, capture_output=True, text=True)
        assert failed.returncode == 80
