"""A world for the cluster providers and the cluster step: the Kubernetes API
stand-in on 127.0.0.1, the `minikube`/`kind` stand-ins first on the shell's
PATH (and, for kind, the kind-node `docker` stand-in), a kubeconfig, a hosts
file and a download mirror of the test's own, and a real state file."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mboxed.contract import Context, Options
from mboxed.engine import Pipeline, StepResult
from mboxed.profile import load_profile
from mboxed.providers import kind as kind_provider
from mboxed.providers import kind_config
from mboxed.providers.kind import INGRESS_NGINX_PATH
from mboxed.steps.cluster import ClusterStep
from tests.context import make_context
from tests.fakes.kube_api import RECORDED, KubeAPIServer

FAKES = Path(__file__).resolve().parent.parent / "fakes"
FAKE_BIN = FAKES / "bin"
KIND_DOCKER = FAKES / "kind-docker"


@dataclass
class World:
    tmp: Path
    api: KubeAPIServer
    ctx: Context
    fake_state: Path
    out: io.StringIO
    mirror: str

    @property
    def hosts(self) -> Path:
        return Path(self.ctx.paths.hosts_file)

    @property
    def kubeconfig(self) -> Path:
        return Path(self.ctx.shell.env["KUBECONFIG"])

    def tool_state(self, tool: str) -> dict[str, Any]:
        path = self.fake_state / f"{tool}.json"
        return json.loads(path.read_text()) if path.exists() else {"calls": []}

    def calls(self, tool: str) -> list[list[str]]:
        """argv of every call the stand-ins recorded (argv[0] is the program)."""
        return [[Path(c[0]).name, *c[1:]] for c in self.tool_state(tool)["calls"]]

    def mutating_calls(self, tool: str) -> list[list[str]]:
        reads = (
            ["status"],
            ["profile", "list"],
            ["get", "clusters"],
            ["ip"],
            ["ps"],
            ["version"],
            ["image", "inspect"],
        )
        out = []
        for call in self.calls(tool):
            words = [w for w in call[1:] if not w.startswith("-")]
            if not any(words[: len(r)] == r for r in reads):
                out.append(call)
        return out

    def set_profile(self, *overrides: str) -> None:
        self.ctx.profile = load_profile("demo", overrides=list(overrides)).profile

    def pipeline(self) -> Pipeline:
        return Pipeline([ClusterStep()], retry_attempts=1, retry_wait=0)

    def plan(self) -> StepResult:
        self.ctx.options.dry_run = True
        try:
            return self.pipeline().up(self.ctx)[0]
        finally:
            self.ctx.options.dry_run = False

    def up(self) -> StepResult:
        return self.pipeline().up(self.ctx)[0]

    def down(self) -> None:
        self.pipeline().down(self.ctx)

    def outputs(self) -> dict[str, Any]:
        return dict(self.ctx.state.outputs("cluster"))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def mirror_server(root: Path) -> Iterator[str]:
    """A download mirror on 127.0.0.1 serving `root` (same paths as upstream)."""
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def room_server(root: Path) -> Iterator[str]:
    from mboxed.mirror_server import serve_directory

    with serve_directory(root, "127.0.0.1", 0) as served:
        yield served.url()


@contextmanager
def _pinned_ingress_manifest(sha256: str) -> Iterator[None]:
    """The mirror serves an excerpt of the upstream manifest, so the world pins
    the excerpt's sha256 in place of upstream's (as tool tests pin a release)."""
    upstream = kind_provider.INGRESS_NGINX_SHA256
    kind_provider.INGRESS_NGINX_SHA256 = sha256
    try:
        yield
    finally:
        kind_provider.INGRESS_NGINX_SHA256 = upstream


@contextmanager
def base_images_in_room(root: Path, fake_state: Path) -> Iterator[dict[str, str]]:
    """kind's node image and minikube's kicbase, built here for this host's
    platform (and minikube's preload: tests/preload.py), stored in the room at
    `root`, the images pinned by their digests in
    place of upstream's (which no test can build); the host's Docker engine
    is the stand-in of tests/fakes/host_engine.py. Yields the fakes' env."""
    from mboxed.images.docker_archive import host_node_platform
    from mboxed.providers import base_image
    from mboxed.providers import minikube as minikube_provider
    from tests.fakes.host_engine import FakeHostEngine
    from tests.images.built import image, store
    from tests.preload import seed_preload

    arch = host_node_platform().architecture
    node = image("kindest/node", "v1.31.0", layers=2, arch=arch)
    kicbase = image("k8s-minikube/kicbase", "v0.0.45", layers=2, arch=arch)
    store(root, "docker.io/kindest/node:v1.31.0", node)
    store(root, "gcr.io/k8s-minikube/kicbase:v0.0.45", kicbase)
    kic_ref = f"gcr.io/k8s-minikube/kicbase:v0.0.45@{kicbase.digest}"
    saved = (
        dict(kind_config.NODE_IMAGE_DIGESTS),
        minikube_provider.KICBASE_IMAGE,
        base_image.host_engine,
    )
    seed_preload(root)  # minikube's preload, as `mboxed mirror` stores it
    kind_config.NODE_IMAGE_DIGESTS["v1.31.0"] = node.digest.partition(":")[2]
    minikube_provider.KICBASE_IMAGE = kic_ref
    base_image.host_engine = lambda env: FakeHostEngine(fake_state)
    try:
        yield {"MBOXED_FAKE_NO_UPSTREAM": "1", "MBOXED_FAKE_KICBASE": kic_ref}
    finally:
        kind_config.NODE_IMAGE_DIGESTS.clear()
        kind_config.NODE_IMAGE_DIGESTS.update(saved[0])
        minikube_provider.KICBASE_IMAGE = saved[1]
        base_image.host_engine = saved[2]


def _base_images(
    root: Path, fake_state: Path, room: bool
) -> AbstractContextManager[dict[str, str]]:
    return base_images_in_room(root, fake_state) if room else nullcontext({})


@contextmanager
def make_world(
    tmp_path: Path,
    *overrides: str,
    env: Mapping[str, str] | None = None,
    options: Options | None = None,
    offline: bool = True,
    room: bool = False,
) -> Iterator[World]:
    """`room`: the mirror is mboxed's own room server (files and images,
    mboxed.mirror_server) over the same tree, not a static file server; it
    holds the providers' node images (base_images_in_room) and the stand-ins
    have no internet (MBOXED_FAKE_NO_UPSTREAM)."""
    fake_state = tmp_path / "fake-state"
    fake_state.mkdir(parents=True, exist_ok=True)
    mirror_root = tmp_path / "mirror"
    manifest = mirror_root / INGRESS_NGINX_PATH.lstrip("/")
    manifest.parent.mkdir(parents=True, exist_ok=True)
    excerpt = (RECORDED / "ingress-nginx-kind-deploy.yaml").read_bytes()
    manifest.write_bytes(excerpt)
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n::1 localhost ip6-localhost\n")
    with (
        _base_images(mirror_root, fake_state, room) as base_env,
        _pinned_ingress_manifest(hashlib.sha256(excerpt).hexdigest()),
        KubeAPIServer(controllers=True) as api,
        room_server(mirror_root) if room else mirror_server(mirror_root) as mirror,
    ):
        shell_env = {
            **os.environ,
            # The stand-ins run on this interpreter (a `python3` shim, like
            # pyenv's, would add a third of a second to every call).
            "PATH": os.pathsep.join(
                [
                    str(FAKE_BIN),
                    str(KIND_DOCKER),
                    str(Path(sys.executable).parent),
                    os.environ.get("PATH", ""),
                ]
            ),
            "MBOXED_FAKE_STATE": str(fake_state),
            "MBOXED_FAKE_KUBE_API": api.url,
            "KUBECONFIG": str(tmp_path / "kube" / "config"),
            "MBOXED_HOSTS_FILE": str(hosts),
            # minikube's cache (the preload mboxed puts there) under tmp_path
            "MINIKUBE_HOME": str(tmp_path / "minikube-home"),
            **({"MBOXED_OFFLINE": "1"} if offline else {}),
            **base_env,
            **(env or {}),
        }
        out = io.StringIO()
        opts = options or Options()
        opts.mirror = mirror
        ctx = make_context(
            tmp_path / "mboxed-home",
            overrides=overrides,
            shell_env=shell_env,
            options=opts,
            out=out,
        )
        yield World(tmp_path, api, ctx, fake_state, out, mirror)
