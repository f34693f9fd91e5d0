"""Getting a set of images into a node: mboxed's `images` step against plain
`docker pull` of the same images from the same loopback registry.

A private dockerd (as root) stands for minikube's node and a real
docker-registry on 127.0.0.1 for upstream (tests/services). Each round
starts from an empty image store. mboxed: Pipeline.up of the `images` step
(render injected, the real DockerPuller over the engine's API, three pulls
at a time, the state file saved at each item's change), until its background
task is done. Plain: `docker -H … pull IMAGE` for each image, one after the
other, as a user would type them. Goal: mboxed <= 1.1x plain.

    sudo .venv-test/bin/python benchmarks/images_pull.py [IMAGES] [LAYERS] [MB_PER_LAYER]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import docker  # noqa: E402

from mboxed.engine import Pipeline  # noqa: E402
from tests.services import dockerd as dockerd_service  # noqa: E402
from tests.services.registry import push_image, random_layers, running_registry  # noqa: E402
from tests.steps.images_world import context, step  # noqa: E402

ROUNDS = 3


def empty_store(host: str) -> None:
    client = docker.APIClient(base_url=host)
    for row in client.images():
        client.remove_image(row["Id"], force=True)


def main(count: int = 4, layers: int = 3, mb: int = 8) -> None:
    why = dockerd_service.available()
    docker_cli = shutil.which("docker")
    if why or docker_cli is None:
        sys.exit(f"cannot run: {why or 'no docker CLI'}")
    with (
        tempfile.TemporaryDirectory() as tmp,
        dockerd_service.running_dockerd(Path(tmp) / "dockerd") as engine,
        running_registry(Path(tmp) / "registry", token_auth=False) as registry,
    ):
        host = registry.url.removeprefix("http://")
        images = []
        for n in range(count):
            built = push_image(registry, f"bench/i{n}", "1", random_layers(layers, mb * 10**6))
            images.append(f"{host}/{built.repository}:{built.tag}")
        size = count * layers * mb
        mboxed_times, plain_times = [], []
        for round_ in range(ROUNDS):
            empty_store(engine.host)
            started = time.perf_counter()
            for image in images:
                subprocess.run([docker_cli, "-H", engine.host, "pull", "-q", image], check=True,
                               capture_output=True)  # fmt: skip
            plain_times.append(time.perf_counter() - started)

            empty_store(engine.host)
            ctx = context(Path(tmp) / f"home{round_}")
            images_step, _ = step(images, engine.host)
            started = time.perf_counter()
            Pipeline([images_step], retry_wait=0).up(ctx)
            mboxed_times.append(time.perf_counter() - started)
        plain, ours = statistics.median(plain_times), statistics.median(mboxed_times)
        print(f"{count} images, {layers} layers of {mb} MB each ({size} MB), medians of {ROUNDS}:")
        print(f"  docker pull, one after the other: {plain:.2f} s")
        print(f"  mboxed images step:               {ours:.2f} s  ({ours / plain:.2f}x)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
