"""Step `cluster` with a room mirror (`--mirror URL` of `mboxed mirror
serve`, here mboxed's own room server on 127.0.0.1): the nodes' containerd
gets the room's hosts.toml, written once, named in the plan, journaled,
removed by `down` only where the cluster stays; minikube runs containerd."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

from mboxed.contract import Options
from mboxed.images.room_pull import CERTS_D
from mboxed.providers.room_nodes import REGISTRY_CONFIG_PATCH
from tests.images.built import image, store
from tests.providers.world import World, make_world

REGISTRY = "127.0.0.1:5000"  # a registry whose image the room holds


def fill_room(world: World) -> None:
    store(world.tmp / "mirror", f"{REGISTRY}/team/app:1.0", image("team/app", "1.0", 1))


def node_files(world: World, tool: str) -> dict[str, str]:
    state = world.tool_state(tool)
    if tool == "kind":
        return dict(state["clusters"]["mboxed"]["nodes"][0].get("files") or {})
    return dict(state["profiles"]["mboxed"].get("files") or {})


def check_room_files(files: dict[str, str], room: str) -> None:
    hosts = tomllib.loads(files[f"{CERTS_D}/{REGISTRY}/hosts.toml"])
    assert hosts["server"] == f"http://{REGISTRY}"
    assert hosts["host"] == {room: {"capabilities": ["pull", "resolve"]}}
    assert f"{CERTS_D}/docker.io/hosts.toml" in files
    assert f"{CERTS_D}/registry.k8s.io/hosts.toml" in files


def test_kind_nodes_pull_through_the_room(tmp_path: Path) -> None:
    with make_world(tmp_path, "provider.name=kind", room=True) as world:
        fill_room(world)
        planned = world.plan()
        assert planned.plan is not None
        summaries = [a.summary for a in planned.plan.actions]
        assert summaries[0] == f"load kindest/node:v1.31.0 from the room at {world.mirror}"
        # the node image, loaded from the room, is named by its tag
        assert summaries[1].startswith("create kind cluster 'mboxed' from kindest/node:v1.31.0 (")
        assert (
            f"pull images through the room at {world.mirror}: containerd hosts.toml"
            in (summaries[2])
        )
        assert world.up().outcome == "done"
        config = yaml.safe_load(
            (world.ctx.paths.deployment_dir("default") / "kind-mboxed.yaml").read_text()
        )
        assert config["containerdConfigPatches"] == [REGISTRY_CONFIG_PATCH]
        check_room_files(node_files(world, "kind"), world.mirror)
        assert world.outputs()["room"] == world.mirror
        journal = [e.kind for e in world.ctx.journal("cluster")]
        assert "room_hosts" in journal

        before = len(world.calls("kind"))
        assert world.up().outcome == "skipped"  # the files are there: nothing written
        execs = [c for c in world.calls("kind")[before:] if c[:2] == ["docker", "exec"]]
        assert len(execs) == 1  # the check (sha256sum), no write


def test_a_changed_file_in_the_node_is_planned_and_put_back(tmp_path: Path) -> None:
    with make_world(tmp_path, "provider.name=kind", room=True) as world:
        fill_room(world)
        assert world.up().outcome == "done"
        import json

        state_path = world.fake_state / "kind.json"
        state = json.loads(state_path.read_text())
        node = state["clusters"]["mboxed"]["nodes"][0]
        node["files"][f"{CERTS_D}/docker.io/hosts.toml"] = "server = 'elsewhere'\n"
        state_path.write_text(json.dumps(state))
        planned = world.plan()
        assert planned.plan is not None
        assert [a.kind for a in planned.plan.actions] == ["room"]
        assert "(node mboxed-control-plane)" in planned.plan.actions[0].summary
        assert world.up().outcome == "done"
        check_room_files(node_files(world, "kind"), world.mirror)


def test_minikube_runs_containerd_and_gets_the_files_over_ssh(tmp_path: Path) -> None:
    with make_world(tmp_path, options=Options(yes=True), room=True) as world:
        fill_room(world)
        assert world.up().outcome == "done"
        (start,) = [c for c in world.calls("minikube") if c[1] == "start"]
        assert "--container-runtime=containerd" in start
        assert world.tool_state("minikube")["profiles"]["mboxed"]["runtime"] == "containerd"
        check_room_files(node_files(world, "minikube"), world.mirror)
        ssh = [c for c in world.calls("minikube") if c[1] == "ssh"]
        assert ssh and all(c[2:5] == ["-p", "mboxed", "--"] for c in ssh)
        assert world.up().outcome == "skipped"


def test_down_of_a_cluster_mboxed_did_not_create_removes_the_files(tmp_path: Path) -> None:
    with make_world(tmp_path, "provider.name=kind", room=True) as world:
        fill_room(world)
        # the user's own cluster, made while the host was online
        world.ctx.shell.run(
            ["kind", "create", "cluster", "--name", "mboxed"], env={"MBOXED_FAKE_NO_UPSTREAM": ""}
        )
        assert world.up().outcome == "done"
        assert node_files(world, "kind")
        world.down()
        assert world.tool_state("kind")["clusters"]["mboxed"]  # not mboxed's: kept
        assert node_files(world, "kind") == {}


def test_a_mirror_of_files_only_is_no_room(tmp_path: Path) -> None:
    with make_world(tmp_path, "provider.name=kind") as world:
        assert world.up().outcome == "done"
        assert "room" not in world.outputs()
        assert node_files(world, "kind") == {}
