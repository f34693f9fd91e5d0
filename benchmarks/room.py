"""The room mirror and the offline bundle against the plain ways, on loopback.

Needs root (private dockerd instances, as the tests start them) and Debian's
docker-registry. Images are built here from random (incompressible) layers.

1. images into an engine from the room endpoint (`mboxed mirror serve`)
   vs `docker pull` of the same images from the registry: goal <= 1.1x;
2. images into an engine from a bundle (verified, served from the tar) vs
   `docker load` of a `docker save` tar of the same images: goal <= 1.1x;
3. bytes fetched from the upstream registry when three laptops (three
   engines) install from one room mirror: goal 1x the image set.

    sudo .venv-test/bin/python benchmarks/room.py [MB per image]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mboxed.bundle import TarTree, open_bundle, verify_bundle, write_bundle  # noqa: E402
from mboxed.images.docker_archive import resolve, stream  # noqa: E402
from mboxed.images.mirror import (  # noqa: E402
    ImageMirror,
    mirror_images,
    wanted_from_references,
)
from mboxed.images.oci import Platform, node_platforms  # noqa: E402
from mboxed.mirror_server import RoomServer, serve_directory  # noqa: E402
from mboxed.providers.base_image import DockerHostEngine  # noqa: E402
from tests.images.built import DOCKER_MANIFEST, Built, layer, push, sha  # noqa: E402
from tests.sciencebox.registry import running_registry  # noqa: E402
from tests.services.dockerd import Dockerd, running_dockerd  # noqa: E402

RUNS = 3


def random_image(name: str, megabytes: int, layers: int = 4) -> Built:
    blobs: dict[str, bytes] = {}
    descriptors, diff_ids = [], []
    for i in range(layers):
        data, diff_id = layer({f"data{i}.bin": os.urandom(megabytes * (1 << 20) // layers)})
        blobs[sha(data)] = data
        descriptors.append(
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "digest": sha(data),
                "size": len(data),
            }
        )
        diff_ids.append(diff_id)
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    ).encode()
    blobs[sha(config)] = config
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": sha(config),
            "size": len(config),
        },
        "layers": descriptors,
    }
    return Built(name, "1.0", json.dumps(manifest).encode(), DOCKER_MANIFEST, blobs)


def pull_all(engine: Dockerd, refs: list[str]) -> None:
    for ref in refs:
        result = engine.cli("pull", "-q", ref)
        if result.returncode != 0:
            raise RuntimeError(result.stderr)


def pull_parallel(engine: Dockerd, refs: list[str]) -> None:
    """As the `images` step pulls: three at a time (mboxed.tasks, 3 workers)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=3) as pool:
        for result in pool.map(lambda ref: engine.cli("pull", "-q", ref), refs):
            if result.returncode != 0:
                raise RuntimeError(result.stderr)


def clean(engine: Dockerd, refs: list[str]) -> None:
    engine.cli("rmi", "-f", *refs)


def median(action: Callable[[], None], reset: Callable[[], None]) -> float:
    times = []
    for _ in range(RUNS):
        reset()
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    reset()
    return statistics.median(times)


def main() -> None:
    megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    work = Path(tempfile.mkdtemp(prefix="mbx-bench-", dir="/tmp"))
    images = [random_image(f"bench/img{i}", megabytes) for i in range(3)]
    total = sum(b.size for b in images)
    print(f"image set: {len(images)} images, {total / 1e6:.0f} MB (random layers)")
    with running_registry(work / "upstream", token_auth=False) as registry:
        for built in images:
            push(registry, built)
        upstream = registry.url.removeprefix("http://")
        refs = [f"{upstream}/{b.name}:{b.tag}" for b in images]
        mirror = ImageMirror(work / "room", node_platforms(["linux/amd64"]))
        mirror_images(mirror, wanted_from_references(refs))
        fetched = mirror.bytes_from_source
        with serve_directory(work / "room", "127.0.0.1", 0) as room, running_dockerd() as engine:
            ns = upstream.replace(":", "_")
            room_refs = [f"127.0.0.1:{room.port}/{ns}/{b.name}:{b.tag}" for b in images]
            direct = median(lambda: pull_all(engine, refs), lambda: clean(engine, refs))
            via_room = median(lambda: pull_all(engine, room_refs), lambda: clean(engine, room_refs))
            # three laptops install from the one room: upstream sees only the mirror run
            for _ in range(3):
                pull_all(engine, room_refs)
                clean(engine, room_refs)
            served = room.stats.bytes_by_client.get("127.0.0.1", 0)
            # the same images as a `docker save` tar, for `docker load`
            pull_all(engine, refs)
            saved = work / "saved.tar"
            result = engine.cli("save", "-o", str(saved), *refs)
            assert result.returncode == 0, result.stderr
            clean(engine, refs)
            files = [p.relative_to(work / "room").as_posix() for p in (work / "room").rglob("*")]
            files = [f for f in files if (work / "room" / f).is_file()]
            write_bundle(work / "b.tar", work / "room", files, profile="bench",
                         platforms=["linux/amd64"])  # fmt: skip
            loaded = median(
                lambda: _check(engine.cli("load", "-q", "-i", str(saved))),
                lambda: clean(engine, refs),
            )

            def from_bundle(pull: Callable[[Dockerd, list[str]], None]) -> None:
                bundle = open_bundle(work / "b.tar", "linux/amd64")
                verify_bundle(bundle, work / "marks")  # once per file: later runs read nothing
                # as serve_bundle does: the bundle was just verified (or found
                # verified before), its blobs are not hashed again as they are served
                with RoomServer(TarTree(bundle), "127.0.0.1", 0, verified=True) as served_bundle:
                    pull(
                        engine,
                        [f"127.0.0.1:{served_bundle.port}/{ns}/{b.name}:{b.tag}" for b in images],
                    )

            def reset_bundle() -> None:
                ids = [line for line in engine.cli("images", "-q").stdout.split() if line]
                if ids:
                    engine.cli("rmi", "-f", *ids)

            def streamed_from_bundle() -> None:
                # as a node image reaches the host's engine (providers.base_image):
                # a docker-archive streamed from the bundle's room into `docker load`
                bundle = open_bundle(work / "b.tar", "linux/amd64")
                verify_bundle(bundle, work / "marks")
                with RoomServer(TarTree(bundle), "127.0.0.1", 0, verified=True) as served_bundle:
                    host = DockerHostEngine(engine.host)
                    for built, ref in zip(images, refs, strict=True):
                        tag = f"{built.name}:{built.tag}"
                        image = resolve(served_bundle.url(), ref, Platform("linux", "amd64"), tag)
                        host.load(stream(image))

            bundle_time = median(lambda: from_bundle(pull_all), reset_bundle)
            bundle_streamed = median(streamed_from_bundle, reset_bundle)
            bundle_parallel = median(lambda: from_bundle(pull_parallel), reset_bundle)
            direct_parallel = median(
                lambda: pull_parallel(engine, refs), lambda: clean(engine, refs)
            )
    first_verify = _time(lambda: verify_bundle(open_bundle(work / "b.tar", "linux/amd64"),
                                               work / "marks-fresh"))  # fmt: skip
    print(f"docker pull from the registry     {direct:6.2f} s")
    print(f"pull from the room endpoint       {via_room:6.2f} s  ({via_room / direct:.2f}x)")
    print(f"docker load of a docker-save tar  {loaded:6.2f} s")
    print(f"from the bundle (served from tar) {bundle_time:6.2f} s  ({bundle_time / loaded:.2f}x)")
    print(
        f"  three at a time, as `images` pulls {bundle_parallel:6.2f} s  "
        f"({bundle_parallel / loaded:.2f}x; docker pull from the registry so: "
        f"{direct_parallel:.2f} s)"
    )
    print(
        f"  as a docker-archive stream into docker load {bundle_streamed:6.2f} s  "
        f"({bundle_streamed / loaded:.2f}x)"
    )
    print(f"  first verification of the bundle {first_verify:6.2f} s (once per file)")
    print(
        f"bytes from upstream for 3 laptops {fetched / 1e6:6.0f} MB = {fetched / total:.2f}x "
        f"the image set (the room served {served / 1e6:.0f} MB)"
    )
    import shutil

    shutil.rmtree(work, ignore_errors=True)


def _check(result: object) -> None:
    if getattr(result, "returncode", 1) != 0:
        raise RuntimeError(getattr(result, "stderr", ""))


def _time(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
