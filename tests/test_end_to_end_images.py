"""Image pulls in the end-to-end world: the API stand-in taken as an existing
cluster whose kubelet pulls what mboxed's pre-pull DaemonSets name
(tests/fakes/kubelet.py), slowly. A first `mboxed up` is SIGKILLed while
the pulls run; the next `up` pulls only what the node still lacks, its pulls
overlap the install steps (timestamps), and `ready` ends after the last pull.

No minikube, no Docker engine, no /etc/hosts; root only all the same: the
ingress answers on 127.0.0.3:443 (not the other end-to-end tests' addresses).
"""

from __future__ import annotations

import collections
import contextlib
import json
import signal
import time
from datetime import datetime
from pathlib import Path

import pytest

from mboxed.images.reference import parse
from mboxed.profile import load_profile
from mboxed.sciencebox.chart import ChartRef
from tests.end_to_end_world import EndToEnd, end_to_end, existing_cluster, host_ready, ingress_site
from tests.sciencebox.registry import chart_tgz
from tests.test_end_to_end_recovery import kill_session

HOSTNAME = "box.example.org"
INGRESS_IP = "127.0.0.3"
OVERRIDES = ("provider.name=existing", "provider.context=prod", f"hostname={HOSTNAME}")
PULL_SECONDS = 1.5

WHY_NOT = host_ready(
    tools=("kubectl", "dpkg-query"),
    ingress_ip=INGRESS_IP,
    root_because=f"the ingress answers on {INGRESS_IP}:443",
)
pytestmark = [pytest.mark.timeout(300), pytest.mark.skipif(bool(WHY_NOT), reason=WHY_NOT or "-")]


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def test_pulls_overlap_the_install_ready_waits_and_a_kill_resumes(tmp_path: Path) -> None:
    with end_to_end(tmp_path, "ci", extra_env={}) as world:
        try:
            run_pulls(world)
        except BaseException:
            print("\n".join(world.output))
            world.mboxed("down", check=False)
            raise


def task_items(world: EndToEnd) -> dict[str, dict[str, object]]:
    with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
        return dict((world.state().get("tasks") or {}).get("images", {}).get("items") or {})
    return {}


def chart_with_images(world: EndToEnd, count: int) -> list[str]:
    """The world's chart again, with a Deployment whose containers name
    `count` images: pushed over the tag the profile names."""
    sb = load_profile("ci").profile.sciencebox
    ref = ChartRef.parse(sb.chart, sb.version)
    images = [f"registry.example.org/sb/image{n}:1.{n}" for n in range(count)]
    containers = "".join(
        f"        - name: c{n}\n          image: {image}\n          imagePullPolicy: IfNotPresent\n"
        for n, image in enumerate(images)
    )
    template = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-images\n"
        "spec:\n  template:\n    spec:\n      containers:\n" + containers
    )
    extra = {"sciencebox/templates/images.yaml": template}
    world.registry.push_chart(ref.repository, ref.tag, chart_tgz("sciencebox", sb.version, extra))
    return [str(parse(i)) for i in images]


def run_pulls(world: EndToEnd) -> None:
    images = chart_with_images(world, 9)
    existing_cluster(world, context="prod", ingress_ip=INGRESS_IP)
    kubelets = world.api.kubelets
    kubelets.default_seconds = PULL_SECONDS
    sets = [arg for value in OVERRIDES for arg in ("--set", value)]

    # --- 1. up, SIGKILLed while `ready` waits for pulls (some done, some not) -------------
    argv = ["up", "--yes", "--mirror", world.registry.url, "--profile", "ci", *sets]
    running = world.start_mboxed(*argv)
    deadline = time.monotonic() + 150
    try:
        while True:
            statuses = [i.get("status") for i in task_items(world).values()]
            with contextlib.suppress(FileNotFoundError, json.JSONDecodeError, KeyError):
                installed = world.state()["steps"]["sciencebox"].get("status") == "done"
                if installed and "done" in statuses and any(s != "done" for s in statuses):
                    break
            assert running.poll() is None, "mboxed up ended before it could be killed"
            assert time.monotonic() < deadline, f"no pull under way: {statuses}"
            time.sleep(0.05)
    finally:
        kill_session(running.pid)
        output, _ = running.communicate(timeout=30)
        world.output.append(output)
    assert running.returncode == -signal.SIGKILL
    pulled_before = set(kubelets.pulls)
    state = world.state()
    steps = state["steps"]
    # the pulls started once the chart was cached, ran alongside the install
    # steps, and `ready` was still waiting for them when the power went
    first_pull = min(t[2] for t in kubelets.pull_times)
    assert first_pull >= epoch(steps["chart"]["ended"]) - 0.5
    assert first_pull < epoch(steps["sciencebox"]["ended"])
    overlapped = [
        name
        for name in ("secrets", "tls", "users", "sciencebox")
        if epoch(steps[name]["started"]) < max(t[3] for t in kubelets.pull_times)
        and epoch(steps[name]["ended"]) > first_pull
    ]
    assert "sciencebox" in overlapped, (first_pull, kubelets.pull_times, steps)
    assert steps["ready"]["status"] == "running"

    # the ingress answers as the killed run's certificate says (its tls step ran)
    tls = steps["tls"]["outputs"]
    site = world.stack.enter_context(
        ingress_site(HOSTNAME, Path(tls["cert"]), Path(tls["key"]), INGRESS_IP)
    )
    # the IdP knows the passwords the killed run's users step set
    users = steps["users"]["outputs"]["users"]
    site.users.update({u["name"]: u["password"] for u in users if u.get("password")})
    world.site = site

    # --- 2. up again: pulls only what the node lacks, and `ready` waits for them ---------
    results, out = world.up("ci", *OVERRIDES)
    outcomes = {r.name: r.outcome for r in results}
    assert outcomes["ready"] == "done", out
    counts = collections.Counter(kubelets.pulls)
    assert max(counts.values()) == 1, counts  # no image pulled twice onto the node
    assert pulled_before < set(kubelets.pulls)  # the rest pulled now
    state = world.state()
    task = state["tasks"]["images"]
    assert task["status"] == "done"
    assert {i["status"] for i in task["items"].values()} == {"done"}
    assert sorted(image for _node, image in kubelets.pulls) == sorted(images)
    assert world.api.objects("DaemonSet", "default") == []  # every pre-pull DaemonSet gone
    resumed = [t for t in kubelets.pull_times if (t[0], t[1]) not in pulled_before]
    assert epoch(state["steps"]["ready"]["ended"]) >= max(t[3] for t in resumed)

    # --- 3. and again: nothing to pull ------------------------------------------------------
    again, out = world.up("ci", *OVERRIDES)
    assert {r.name: r.outcome for r in again}["images"] == "skipped", out
    assert collections.Counter(kubelets.pulls) == counts
    world.mboxed("down")
