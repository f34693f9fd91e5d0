"""Step `images` with a real private dockerd and a real registry: three
ways (plan, apply, apply again), pulls overlapping later steps and awaited,
digests recorded and what a second laptop gets, a SIGKILL resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import docker

from mboxed.contract import Action, BaseStep, Context, Plan
from mboxed.engine import Pipeline
from mboxed.tasks import stored
from tests.services.dockerd import Dockerd
from tests.services.registry import Registry, push_image, random_layers
from tests.steps.images_world import context, step


def name(registry: Registry, path: str, tag: str) -> str:
    return f"{registry.url.removeprefix('http://')}/{path}:{tag}"


def forget(dockerd: Dockerd, *images: str) -> None:
    client = docker.APIClient(base_url=dockerd.host)
    for image in images:
        for row in client.images(name=image.rsplit(":", 1)[0]):
            client.remove_image(row["Id"], force=True)


def test_three_ways_plan_pull_in_background_then_nothing(
    private_dockerd: Dockerd, image_registry: Registry, tmp_path: Path
) -> None:
    built = [
        push_image(image_registry, f"three/i{n}", "1", random_layers(2, 20_000)) for n in range(3)
    ]
    images = [name(image_registry, b.repository, b.tag) for b in built]
    forget(private_dockerd, *images)
    ctx = context(tmp_path)
    images_step, puller = step(images, private_dockerd.host)
    # 1. a fresh node: a pull per image, and nothing pulled by planning
    plan = images_step.plan(ctx, images_step.facts(ctx))
    assert [a.kind for a in plan.actions] == ["pull"] * 3
    assert puller.pulls == []
    # 2. up: the pulls run as the engine's background task, awaited at the end
    (result,) = Pipeline([images_step], retry_wait=0).up(ctx)
    assert result.outcome == "done"
    assert sorted(puller.pulls) == sorted(images)
    task = stored(ctx.state, "images")
    assert task["status"] == "done"
    assert {k: v["digest"] for k, v in task["items"].items()} == {
        i: b.digest
        for i, b in zip(sorted(images), sorted(built, key=lambda b: b.repository), strict=True)
    }
    # 3. again: every image is on the node, nothing pulled, digests kept
    (again,) = Pipeline([images_step], retry_wait=0).up(ctx)
    assert again.outcome == "skipped"
    assert len(puller.pulls) == 3
    pins = ctx.outputs("images")["pins"]
    assert pins == {k: v["digest"] for k, v in task["items"].items()}


class Once(BaseStep):
    """A step with one action, done once: `work` is what it does."""

    def __init__(self, name: str, work: Any) -> None:
        self.name, self.work, self.ran = name, work, False

    def facts(self, ctx: Context) -> Any:
        return self.ran

    def plan(self, ctx: Context, facts: Any) -> Plan:
        return Plan.nothing("done") if facts else Plan([Action(self.name)])

    def apply(self, ctx: Context, plan: Plan) -> Mapping[str, Any] | None:
        self.work(ctx)
        self.ran = True
        return None


def test_pulls_overlap_the_install_and_ready_waits_for_them(
    private_dockerd: Dockerd, image_registry: Registry, tmp_path: Path
) -> None:
    built = [
        push_image(image_registry, f"overlap/i{n}", "1", random_layers(3, 300_000))
        for n in range(2)
    ]
    images = [name(image_registry, b.repository, b.tag) for b in built]
    forget(private_dockerd, *images)
    ctx = context(tmp_path)
    images_step, _puller = step(images, private_dockerd.host)
    log: list[tuple[str, float]] = []

    def install(ctx: Context) -> None:  # stands for secrets, tls, users, helm
        time.sleep(1.0)
        log.append(("sciencebox", time.monotonic()))

    def ready(ctx: Context) -> None:
        ctx.tasks.wait("images", lambda line: None, interval=0.01)
        log.append(("ready", time.monotonic()))

    Pipeline([images_step, Once("sciencebox", install), Once("ready", ready)], retry_wait=0).up(ctx)
    task = ctx.tasks.get("images")
    first_pull = min(i.started for i in task.items.values())
    last_pull = max(i.ended for i in task.items.values())
    times = dict(log)
    assert first_pull < times["sciencebox"]  # pulled while the install ran
    assert times["ready"] >= last_pull  # ready returned only after the last pull


def test_recorded_digests_decide_what_a_second_laptop_gets_after_the_tag_moved(
    private_dockerd: Dockerd, image_registry: Registry, tmp_path: Path
) -> None:
    first = push_image(image_registry, "class/nslcd", "stable", random_layers(2, 10_000), seed="a")
    image = name(image_registry, "class/nslcd", "stable")
    forget(private_dockerd, image)
    laptop_a = context(tmp_path / "a")
    step_a, _ = step([image], private_dockerd.host)
    Pipeline([step_a], retry_wait=0).up(laptop_a)
    Pipeline([step_a], retry_wait=0).up(laptop_a)  # outputs: the pins, from the task's record
    pins = laptop_a.outputs("images")["pins"]
    assert pins == {f"{image}": first.digest}

    moved = push_image(image_registry, "class/nslcd", "stable", random_layers(2, 10_000), seed="b")
    assert moved.digest != first.digest

    # laptop B is handed the class's pins; its node has nothing yet
    forget(private_dockerd, image)
    laptop_b = context(tmp_path / "b")
    laptop_b.state.step("images").data.update(status="done", outputs={"pins": pins})
    step_b, puller_b = step([image], private_dockerd.host)
    plan = step_b.plan(laptop_b, step_b.facts(laptop_b))
    assert [a.detail["pin"] for a in plan.actions] == [first.digest]
    Pipeline([step_b], retry_wait=0).up(laptop_b)
    assert puller_b.pulls == [f"{image}@{first.digest}"]
    inspect = docker.APIClient(base_url=private_dockerd.host).inspect_image(image)
    assert any(d.endswith(first.digest) for d in inspect["RepoDigests"])

    # without pins, a laptop gets whatever the tag names today
    forget(private_dockerd, image)
    laptop_c = context(tmp_path / "c")
    step_c, _ = step([image], private_dockerd.host)
    Pipeline([step_c], retry_wait=0).up(laptop_c)
    assert stored(laptop_c.state, "images")["items"][image]["digest"] == moved.digest


KILLED_RUN = """
import sys, time
from pathlib import Path
from mboxed.engine import Pipeline
from mboxed.tasks import Tasks
from tests.steps.images_world import context, step
home, host, *images = sys.argv[1:]
ctx = context(Path(home))
ctx.tasks = Tasks(ctx.state, workers=1)
images_step, puller = step(images, host)
Pipeline([images_step], retry_wait=0).up(ctx)
"""


def test_a_sigkill_during_the_pulls_resumes_without_pulling_finished_images_again(
    private_dockerd: Dockerd, image_registry: Registry, tmp_path: Path
) -> None:
    small = push_image(image_registry, "kill/a-small", "1", random_layers(1, 10_000))
    big = push_image(image_registry, "kill/b-big", "1", random_layers(4, 8_000_000))
    last = push_image(image_registry, "kill/c-small", "1", random_layers(1, 10_000))
    images = [name(image_registry, b.repository, b.tag) for b in (small, big, last)]
    forget(private_dockerd, *images)
    home = tmp_path / "home"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, str(home), private_dockerd.host, *images], env=env
    )
    state_file = context(home).state.path
    deadline = time.monotonic() + 60
    while True:
        items = read_items(state_file)
        if (
            items.get(images[0], {}).get("status") == "done"
            and items.get(images[1], {}).get("status") == "running"
        ):
            break
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, f"no pull under way: {items}"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    ctx = context(home)
    images_step, puller = step(images, private_dockerd.host)
    plan = images_step.plan(ctx, images_step.facts(ctx))
    assert [a.detail["image"] for a in plan.actions] == images[1:]
    Pipeline([images_step], retry_wait=0).up(ctx)
    assert puller.pulls == images[1:]  # the small one finished before the kill
    assert images_step.plan(ctx, images_step.facts(ctx)).empty


def read_items(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text()).get("tasks", {}).get("images", {}).get("items", {})
    except (OSError, ValueError):
        return {}


def test_a_laptop_given_the_class_pins_file_gets_the_pinned_bits_after_the_tag_moved(
    private_dockerd: Dockerd, image_registry: Registry, tmp_path: Path
) -> None:
    from mboxed.images.pins_file import dump_pins

    first = push_image(image_registry, "pins/cernbox", "1.0", random_layers(2, 10_000), seed="p")
    image = name(image_registry, "pins/cernbox", "1.0")
    forget(private_dockerd, image)
    # the instructor's laptop pulls, and exports its digests (`mboxed images --pins`)
    instructor = context(tmp_path / "instructor")
    step_i, _ = step([image], private_dockerd.host)
    Pipeline([step_i], retry_wait=0).up(instructor)
    pins = stored(instructor.state, "images")["items"]
    class_file = tmp_path / "class-pins.yaml"
    class_file.write_text(dump_pins({image: pins[image]["digest"]}))

    moved = push_image(image_registry, "pins/cernbox", "1.0", random_layers(2, 10_000), seed="q")
    assert moved.digest != first.digest
    # a student's laptop that once pulled the moved tag: the class's file wins
    forget(private_dockerd, image)
    student = context(tmp_path / "student", overrides=[f"images.pins={class_file}"])
    own = {"pins": {image: moved.digest}}
    student.state.step("images").data.update(status="done", outputs=own)
    step_s, puller_s = step([image], private_dockerd.host)
    Pipeline([step_s], retry_wait=0).up(student)
    assert puller_s.pulls == [f"{image}@{first.digest}"]
    inspect = docker.APIClient(base_url=private_dockerd.host).inspect_image(image)
    assert any(d.endswith(first.digest) for d in inspect["RepoDigests"])
    assert student.outputs("images")["pins"][image] == first.digest
