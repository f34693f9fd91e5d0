"""The room's hosts.toml files in the nodes: the scripts mboxed runs in a
node, run here by a real `sh` (coreutils base64 and sha256sum, as in kind and
minikube nodes) over a directory standing in for the node's /etc, and the
registries a real room server lists."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mboxed.images.room_pull import CERTS_D, hosts_files
from mboxed.mirror_server import serve_directory
from mboxed.providers.room_nodes import (
    KNOWN_REGISTRIES,
    RoomNodes,
    node_command,
    room_registries,
)
from tests.images.built import image, store


def node_in(root: Path) -> RoomNodes:
    """Nodes whose certs.d is under root/<node>: the command mboxed sends is
    run by sh, with the node's absolute path mapped to that directory."""
    calls: list[str] = []

    def run(node: str, script: str) -> str:
        command = node_command(script, sudo=False).replace("| sh", "| sed 's#%s#%s#g' | sh")
        command = command % (CERTS_D, root / node / "certs.d")
        done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True)
        calls.append(node)
        return done.stdout.replace(str(root / node / "certs.d"), CERTS_D)

    nodes = RoomNodes(lambda: ["c1-control-plane", "c1-worker"], run)
    nodes.calls = calls  # type: ignore[attr-defined]
    return nodes


def test_files_are_written_into_every_node_once_and_removed(tmp_path: Path) -> None:
    files = hosts_files(["docker.io", "quay.io"], "http://10.0.0.5:8080")
    nodes = node_in(tmp_path)
    assert nodes.missing(files) == {
        "c1-control-plane": sorted(files),
        "c1-worker": sorted(files),
    }
    assert nodes.install(files) == ["c1-control-plane", "c1-worker"]
    for node in ("c1-control-plane", "c1-worker"):
        written = tmp_path / node / "certs.d" / "docker.io" / "hosts.toml"
        assert written.read_text() == files["docker.io/hosts.toml"]
    assert nodes.missing(files) == {}
    assert nodes.install(files) == []  # idempotent: nothing written again
    # a node whose file was changed gets it back, alone
    (tmp_path / "c1-worker" / "certs.d" / "quay.io" / "hosts.toml").write_text("x")
    assert nodes.install(files) == ["c1-worker"]
    assert nodes.missing(files) == {}
    nodes.remove(files)
    assert not (tmp_path / "c1-worker" / "certs.d" / "quay.io" / "hosts.toml").exists()


def test_the_room_lists_the_registries_it_holds(tmp_path: Path) -> None:
    built = image("team/app", "1.0", layers=1)
    store(tmp_path, "127.0.0.1:5000/team/app:1.0", built)
    store(tmp_path, "docker.io/library/busybox:1.36", image("library/busybox", "1.36", 1))
    with serve_directory(tmp_path, "127.0.0.1", 0) as room:
        found = room_registries(room.url())
    assert "127.0.0.1:5000" in found and "docker.io" in found
    assert set(KNOWN_REGISTRIES) <= set(found)
    # a room that does not answer: the known registries all the same
    assert room_registries("http://127.0.0.1:9", timeout=2) == sorted(KNOWN_REGISTRIES)
