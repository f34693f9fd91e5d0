"""The provider's node image, from the room onto this host, before the
cluster is created (a room: `--mirror` of `mboxed mirror serve`, or the room
`up --bundle` serves). Without it the host's Docker engine would pull it
from the internet: kind's `docker pull kindest/node…`, minikube's kicbase
download.

- kind: the image is `docker load`ed into the host's engine (Docker SDK,
  the docker-archive streamed from the room, mboxed.images.docker_archive)
  under its tag, unless an image of the same ID is there already; the kind
  config then names it by that tag (kind_config.py says why).
- minikube v1.34.0: `minikube start` looks for the kicbase as a tarball in
  its cache before it downloads it (pkg/minikube/node/cache.go
  beginDownloadKicBaseImage → download.ImageToCache: a non-empty file at
  imagePathInCache is taken as it is; then CacheToDaemon loads it with
  go-containerregistry's tarball.ImageFromPath(path, tag)). The path
  (pkg/minikube/download/image.go imagePathInCache, detect.KICCacheDir,
  localpath.MiniPath, SanitizeCacheDir):
  `<MiniPath>/cache/kic/<GOARCH>/<path.Base(image)>.tar` with every ":" of
  the whole path as "_". Its daemon check never succeeds in v1.34.0
  (isImageCorrectArch compares cfg.Architecture with runtime.GOOS), so the
  cache file is what counts; mboxed writes it atomically.

Neither is journaled: like a download cache, the image stays for the next
cluster. A second `up` finds the image (or file) and moves nothing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import tarfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from mboxed.errors import MboxedError
from mboxed.files import replacing
from mboxed.images.docker_archive import (
    ArchiveImage,
    RoomLacksImage,
    host_node_platform,
    resolve,
    stream,
)
from mboxed.providers import Progress
from mboxed.providers.minikube_preload import minikube_home


def familiar_tag(reference: str) -> str:
    """'kindest/node:v1.31.0@sha256:…' → 'kindest/node:v1.31.0' (minikube's
    image.Tag: the reference without its digest)."""
    return reference.split("@", 1)[0]


# --- kind: the host's Docker engine ---------------------------------------------------


class HostEngine(Protocol):
    def image(self, name: str) -> Mapping[str, Any] | None:
        """The engine's inspect of an image (Id, RootFS), None when absent."""
        ...

    def load(self, chunks: Iterable[bytes]) -> list[str]:
        """`docker load` of a streamed archive; the names loaded."""
        ...


class DockerHostEngine:
    """The host's Docker engine through the Docker SDK."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def _client(self) -> Any:
        import docker

        try:
            return docker.DockerClient(base_url=self.base_url, timeout=1800)
        except docker.errors.DockerException as exc:
            raise MboxedError(f"the Docker engine at {self.base_url}: {exc}") from None

    def image(self, name: str) -> Mapping[str, Any] | None:
        import docker

        client = self._client()
        try:
            return dict(client.images.get(name).attrs)
        except docker.errors.ImageNotFound:
            return None
        finally:
            client.close()

    def load(self, chunks: Iterable[bytes]) -> list[str]:
        import docker

        client = self._client()
        try:
            # The generator is sent as the chunked body of POST /images/load.
            return [str(i.id) for i in client.images.load(chunks)]
        except docker.errors.DockerException as exc:
            raise MboxedError(f"docker load into {self.base_url}: {exc}") from None
        finally:
            client.close()


def host_engine(env: Mapping[str, str]) -> HostEngine:
    """The engine kind uses: DOCKER_HOST, else the usual sockets."""
    from mboxed.docker_engine import docker_endpoint

    return DockerHostEngine(docker_endpoint(env))


def engine_holds(attrs: Mapping[str, Any] | None, image: ArchiveImage) -> bool:
    """Is the engine's image this one? Its ID is the config digest (the
    classic image store); with the containerd image store the ID is a
    manifest's digest, so the layers (RootFS diff IDs) must match instead."""
    if attrs is None:
        return False
    if attrs.get("Id") == image.config_digest:
        return True
    layers = (attrs.get("RootFS") or {}).get("Layers") or []
    return bool(layers) and list(layers) == image.diff_ids


@functools.lru_cache(maxsize=8)
def room_image(room: str, reference: str, needed_by: str) -> ArchiveImage:
    """Resolved once per process: the plan's check and the load that follows
    fetch the manifests and config once (a pinned image never changes)."""
    return resolve(room, reference, host_node_platform(), familiar_tag(reference), needed_by)


def engine_lacks(engine: HostEngine, room: str, reference: str) -> bool:
    image = room_image(room, reference, "kind's node image")
    return not engine_holds(engine.image(image.repo_tag), image)


def load_into_engine(engine: HostEngine, room: str, reference: str, progress: Progress) -> bool:
    """The node image in the host's engine under its tag; True when loaded."""
    image = room_image(room, reference, "kind's node image")
    if engine_holds(engine.image(image.repo_tag), image):
        return False
    progress(load_summary(image.repo_tag, room))
    engine.load(stream(image))
    attrs = engine.image(image.repo_tag)
    if not engine_holds(attrs, image):
        found = (attrs or {}).get("Id", "nothing")
        raise MboxedError(
            f"loading {image.repo_tag} from the room: the engine has {found} under that "
            f"name, not the image {image.config_digest}"
        )
    return True


def load_summary(tag: str, room: str) -> str:
    return f"load {tag} from the room at {room}"


def planned(lacks: Callable[[], bool], reference: str, room: str) -> str | None:
    """The plan's line for a node image the host lacks (None: it has it).
    A room without the image is an error now; a host that cannot tell yet
    (its engine not running) gets the line all the same."""
    try:
        missing = lacks()
    except RoomLacksImage:
        raise
    except MboxedError:
        missing = True
    return load_summary(familiar_tag(reference), room) if missing else None


# --- minikube: the kicbase cache file ---------------------------------------------------


def kic_cache_path(env: Mapping[str, str], reference: str, arch: str) -> Path:
    """Where minikube v1.34.0 looks for `reference`'s tarball."""
    base = reference.rsplit("/", 1)[-1]
    path = minikube_home(env) / "cache" / "kic" / arch / f"{base}.tar"
    return Path(str(path).replace(":", "_"))


def cache_holds(path: Path, image: ArchiveImage) -> bool:
    """The file is a docker-archive of this image under its tag: the config
    member hashes to the config digest, each layer member has its size."""
    try:
        with tarfile.open(path, mode="r:") as tar:
            handle = tar.extractfile("manifest.json")
            entries = json.loads(handle.read()) if handle else []
            entry = next(e for e in entries if image.repo_tag in (e.get("RepoTags") or []))
            config = tar.extractfile(entry["Config"])
            if (
                config is None
                or "sha256:" + hashlib.sha256(config.read()).hexdigest() != image.config_digest
            ):
                return False
            sizes = [tar.getmember(name).size for name in entry["Layers"]]
    except (OSError, tarfile.TarError, ValueError, KeyError, StopIteration, TypeError):
        return False
    return sizes == [layer.size for layer in image.layers]


def kic_arch() -> str:
    return host_node_platform().architecture


def cache_lacks(env: Mapping[str, str], room: str, reference: str) -> bool:
    image = room_image(room, reference, "minikube's kicbase")
    return not cache_holds(kic_cache_path(env, reference, kic_arch()), image)


def write_kic_cache(env: Mapping[str, str], room: str, reference: str, progress: Progress) -> bool:
    """minikube's kicbase tarball from the room; True when written."""
    image = room_image(room, reference, "minikube's kicbase")
    path = kic_cache_path(env, reference, kic_arch())
    if cache_holds(path, image):
        return False
    progress(load_summary(image.repo_tag, room) + f" into {path}")
    with replacing(path, 0o644) as tmp, tmp.open("wb") as out:
        for chunk in stream(image):
            out.write(chunk)
    return True
