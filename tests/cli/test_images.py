"""`mboxed images`, as a user runs it: the model chart rendered by real Helm
as the install would, every image listed with its uses; and `status` shows
the background pulls."""

from __future__ import annotations

import json
from pathlib import Path

from mboxed.state import State
from tests.cli.run import mboxed, state_file
from tests.helm import MODEL_CHART, Helm


def seed_state(helm: Helm) -> None:
    """What the helm and chart steps leave: the binary and the cached chart."""
    state = State.load(state_file(), "default")
    state.step("helm").data.update(status="done", outputs={"path": str(helm.path)})
    state.step("chart").data.update(status="done", outputs={"path": str(MODEL_CHART)})
    state.save()


def test_images_lists_the_model_charts_images_with_their_uses(real_helm: Helm) -> None:
    seed_state(real_helm)
    args = ["--profile", "demo", "--set", "hostname=box.example.org", "--set", "provider.name=kind"]
    done = mboxed("images", *args, "--json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    rows = {row["image"]: row for row in listed["images"]}
    # what no image provides, by host (cernbox-web's assets are in the cluster now)
    hosts = {h for need in listed["network_needs"] for h in need["hosts"]}
    assert hosts == {
        "raw.githubusercontent.com",
        "cvmfs-config.cern.ch",
        "sft.cern.ch",
        "sft-nightlies.cern.ch",
    }
    user = rows["gitlab-registry.cern.ch/swan/docker-images/systemuser:v5.14.1"]
    assert "spawner" in [u["origin"] for u in user["uses"]]  # the spawned pod, from values
    assert user["on_node"] is None  # no cluster yet: unknown, not "absent"
    assert all(u["init"] for u in rows["docker.io/library/busybox:stable"]["uses"])
    # the Bitnami images come from bitnamilegacy (docker.io/bitnami deleted them)
    assert "docker.io/bitnamilegacy/nginx:1.23.3-debian-11-r8" in rows
    assert not [i for i in rows if i.startswith("docker.io/bitnami/")]
    ingress = [i for i, r in rows.items() if r["uses"][0]["origin"] == "ingress"]
    assert len(ingress) == 2 and all("@sha256:" in i for i in ingress)
    # the values make every pull IfNotPresent, the spawned pod's included
    assert {p for r in rows.values() for p in r["pull_policy"]} == {"IfNotPresent"}
    text = mboxed("images", *args)
    assert "StatefulSet/sciencebox-ldap container openldap (IfNotPresent)" in text.stdout
    assert "still needs the internet at run time (no image provides it):" in text.stdout
    assert "    CVMFS software repositories (cvmfs-config.cern.ch" in text.stdout
    # without SWAN, neither of its needs is named
    no_swan = mboxed("images", *args, "--set", "sciencebox.components.swan=false", "--json")
    assert no_swan.returncode == 0, no_swan.stderr
    assert json.loads(no_swan.stdout)["network_needs"] == []


def test_images_before_the_chart_is_cached_says_what_to_run() -> None:
    done = mboxed("images", "--profile", "demo", "--set", "hostname=box.example.org")
    assert done.returncode == 1
    assert "needs the chart step first" in done.stderr
    assert "mboxed up --only chart" in done.stderr


def test_status_shows_background_pulls_a_killed_run_left(tmp_path: Path) -> None:
    state = State.load(state_file(), "default")
    state.data["tasks"] = {
        "images": {
            "status": "running",
            "items": {"a": {"status": "done"}, "b": {"status": "running"}},
        }
    }
    state.save()
    done = mboxed("status", "--json")
    assert json.loads(done.stdout)["tasks"]["images"]["summary"] == "running (1 done, 1 running)"
    assert "images      background: running (1 done, 1 running)" in mboxed("status").stdout


def test_images_shows_the_room_or_bundle_each_pull_came_through(real_helm: Helm) -> None:
    seed_state(real_helm)
    state = State.load(state_file(), "default")
    busybox = "docker.io/library/busybox:stable"
    digest = "sha256:" + "ab" * 32
    state.data["tasks"] = {
        "images": {
            "status": "done",
            "items": {
                # as mboxed.tasks saves them: the pull's result fields in the item
                busybox: {"status": "done", "digest": digest, "via": "bundle /srv/sb.tar"},
                "docker.io/osixia/openldap:1.5.0": {
                    "status": "done",
                    "digest": digest,
                    "via": "upstream",
                },
            },
        }
    }
    state.save()
    args = ["--profile", "demo", "--set", "hostname=box.example.org", "--set", "provider.name=kind"]
    listed = json.loads(mboxed("images", *args, "--json").stdout)
    rows = {r["image"]: r for r in listed["images"]}
    assert rows[busybox]["source"].endswith("via bundle /srv/sb.tar")
    assert "via" not in rows["docker.io/osixia/openldap:1.5.0"]["source"]
    assert "    from docker.io" in mboxed("images", *args).stdout


def test_images_pins_writes_the_deployments_digests_for_a_class(tmp_path: Path) -> None:
    from mboxed.images.pins_file import read_pins

    busybox, nslcd = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    state = State.load(state_file(), "default")
    outputs = {"pins": {"docker.io/library/busybox:stable": busybox}}
    state.step("images").data.update(status="done", outputs=outputs)
    # a pull a killed run finished: in the task's record, not yet in the outputs
    state.data["tasks"] = {
        "images": {
            "status": "running",
            "items": {"registry.example/nslcd:2": {"status": "done", "digest": nslcd}},
        }
    }
    state.save()
    out = tmp_path / "class-pins.yaml"
    done = mboxed("images", "--profile", "demo", "--pins", str(out))
    assert done.returncode == 0, done.stderr
    assert "2 pins written" in done.stdout
    assert read_pins(out) == {
        "docker.io/library/busybox:stable": busybox,
        "registry.example/nslcd:2": nslcd,
    }


def test_images_pins_before_any_pull_says_to_run_up_first(tmp_path: Path) -> None:
    done = mboxed("images", "--profile", "demo", "--pins", str(tmp_path / "pins.yaml"))
    assert done.returncode == 1
    assert "no digests recorded yet" in done.stderr
    assert not (tmp_path / "pins.yaml").exists()
