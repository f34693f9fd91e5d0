"""minikube's preload tarball: where upstream publishes it, where minikube
looks for it, and putting it there from a room mirror (or a bundle's room)
before `minikube start`, so that a laptop with no network starts.

Facts from kubernetes/minikube v1.34.0 (the pinned release):
- pkg/minikube/download/preload.go: TarballName is
  `preloaded-images-k8s-<PreloadVersion v18>-<k8s>-<runtime>-<storage driver>-<GOARCH>.tar.lz4`
  (overlay2, or overlay for cri-o), published at
  https://storage.googleapis.com/minikube-preloaded-volume-tarballs/v18/<k8s>/<name>
  and cached as MINIKUBE_HOME/cache/preloaded-tarball/<name>. PreloadExists
  takes a local non-empty tarball as it is (no remote check), and Preload
  skips the download when it is there. The only published checksum is the
  MD5 of the GCS object's metadata (getStorageAttrs, getChecksum); the
  `<name>.checksum` file beside it is written (raw MD5 bytes) and read back
  only to verify a download minikube itself just made (ensureChecksumValid),
  so mboxed does not write it.
- The tarball holds ./lib/minikube/binaries (hack/preload-images/generate.go
  createImageTarball), extracted to /var in the node (cruntime/containerd.go
  Preload); bsutil.TransferBinaries then finds kubeadm, kubelet and kubectl
  in the node and downloads nothing. Without a preload they come from
  dl.k8s.io into MINIKUBE_HOME/cache/linux/<arch>/<k8s>/ (download/binary.go),
  and `start` fails offline. The kubectl cache is only read by `minikube
  kubectl` and `--download-only` (node/cache.go CacheKubectlBinary), which
  mboxed does not use: with the preload, no binaries cache is needed.
- localpath.MiniPath: MINIKUBE_HOME unset → ~/.minikube; ending in
  `.minikube` → itself; else MINIKUBE_HOME/.minikube when that exists, else
  MINIKUBE_HOME.

A room stores the tarball at its upstream path with `<name>.sha256` beside it
(mboxed.mirror_preload records it at mirror time); laptops check that sha256.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mboxed.download_failures import DownloadError
from mboxed.downloads import Downloader
from mboxed.errors import MboxedError
from mboxed.files import place, sha256_of
from mboxed.pins import Release

PRELOAD_VERSION = "v18"
BUCKET = "minikube-preloaded-volume-tarballs"
GCS = "https://storage.googleapis.com"
# The runtime minikube runs with a room (mboxed.providers.minikube room_start_flags).
RUNTIME = "containerd"
NO_PRELOAD_DRIVERS = ("none", "ssh")  # driver.AllowsPreload: not bare metal, not ssh
PRELOAD_PLACED = "minikube_preload"  # the cluster step's journal entry


def tarball_name(k8s: str, arch: str, runtime: str = RUNTIME) -> str:
    runtime = "cri-o" if runtime == "crio" else runtime
    storage = "overlay" if runtime == "cri-o" else "overlay2"
    return f"preloaded-images-k8s-{PRELOAD_VERSION}-{k8s}-{runtime}-{storage}-{arch}.tar.lz4"


def preload_release(k8s: str, runtime: str = RUNTIME) -> Release:
    """The preload for `k8s` as a release of linux/{arch} files. Its checksum
    file, `<name>.sha256`, exists only in rooms (upstream publishes an MD5)."""
    url = f"{GCS}/{BUCKET}/{PRELOAD_VERSION}/{{version}}/" + tarball_name(
        "{version}", "{arch}", runtime
    )
    return Release(tool="minikube preload", version=k8s, url=url, checksum_url=url + ".sha256")


def minikube_home(env: Mapping[str, str]) -> Path:
    """localpath.MiniPath of minikube v1.34.0, where its cache is (the
    preload here, the kicbase in mboxed.providers.base_image): $MINIKUBE_HOME
    if it ends in .minikube, else its .minikube when that exists, else
    itself; without it ~/.minikube."""
    given = env.get("MINIKUBE_HOME", "")
    if not given:
        return Path(env.get("HOME") or Path.home()) / ".minikube"
    if Path(given).name == ".minikube":
        return Path(given)
    legacy = Path(given) / ".minikube"
    return legacy if legacy.exists() else Path(os.path.normpath(given))


def cached_tarball(env: Mapping[str, str], k8s: str, arch: str, runtime: str = RUNTIME) -> Path:
    return minikube_home(env) / "cache" / "preloaded-tarball" / tarball_name(k8s, arch, runtime)


@dataclass
class RoomPreload:
    """The preload for one Kubernetes version and arch, taken from `room`
    into minikube's cache through mboxed's downloads cache (resumed, retried,
    verified; a second run finds it there and asks the room nothing).
    `bundle`: the room is that of `up --bundle` (no network behind it)."""

    room: str
    k8s: str
    arch: str
    env: Mapping[str, str]
    cache_root: Path
    profile: str = ""
    bundle: bool = False
    lacking: str = field(default="", init=False)  # why the room has no sum for it

    @property
    def path(self) -> Path:
        return cached_tarball(self.env, self.k8s, self.arch)

    @property
    def platform(self) -> str:
        return f"linux/{self.arch}"

    @property
    def name(self) -> str:
        return self.path.name

    def summary(self) -> str:
        return f"put minikube's preload for {self.k8s} into its cache from the room"

    def _downloader(self) -> Downloader:
        return Downloader(self.cache_root, mirror=self.room)

    def _expected(self, downloader: Downloader) -> str | None:
        """The room's sha256 of the tarball; None when the room has none."""
        try:
            return downloader.expected_sha256(preload_release(self.k8s), self.platform)
        except DownloadError as exc:
            self.lacking = exc.message
            return None

    def missing(self) -> bool:
        """Is the tarball absent from minikube's cache, or not the room's?
        One there that the room cannot vouch for is kept: minikube takes any
        non-empty one (PreloadExists)."""
        path = self.path
        if not path.is_file() or path.stat().st_size == 0:
            return True
        expected = self._expected(self._downloader())
        return expected is not None and sha256_of(path) != expected

    def install(self, progress: Callable[[str], None]) -> Path | None:
        """Put the room's tarball in minikube's cache; None when the right
        one is there already, or the room has none (a bundle: an error)."""
        downloader = self._downloader()
        expected = self._expected(downloader)
        if expected is None:
            self._lacking(progress)
            return None
        if self.path.is_file() and sha256_of(self.path) == expected:
            return None
        verified = downloader.fetch(preload_release(self.k8s), self.platform, expected)
        place(verified, self.path, expected)  # temp file + rename, a hard link when it can
        return self.path

    def _lacking(self, progress: Callable[[str], None]) -> None:
        what = f"minikube preload {self.name} (Kubernetes {self.k8s}, {self.arch})"
        make = f"mboxed mirror DIR --profile {self.profile or 'P'}"
        if self.bundle:
            # No network behind a bundle: `minikube start` would fail later
            # downloading kubelet (K8S_INSTALL_FAILED), far from the cause.
            raise MboxedError(
                f"the bundle has no {what}: minikube cannot start without the network",
                hint=f"make the bundle again with this mboxed (`mboxed bundle FILE --profile "
                f"{self.profile or 'P'} --platform linux/{self.arch}`), or build its room "
                f"with `{make}`",
            )
        # A room of an older mboxed, or a registry given as --mirror: the
        # laptop is online, and minikube downloads the preload itself.
        progress(
            f"the room {self.room} has no {what} ({self.lacking}): minikube "
            f"downloads it from {GCS.removeprefix('https://')}; add it to the room with `{make}`"
        )


def room_preload(ctx: Any, provider: Any) -> RoomPreload | None:
    """The preload `provider` needs from its room before it creates the
    cluster: a minikube cluster pulling through a room (containerd) with a
    driver that uses preloads; None otherwise."""
    from mboxed.bundle import host_platform

    room = getattr(provider, "room", None)
    spec = provider.spec
    if spec.provider != "minikube" or not room or spec.driver in NO_PRELOAD_DRIVERS:
        return None
    arch = host_platform().partition("/")[2]  # minikube's own GOARCH
    return RoomPreload(
        room,
        spec.kubernetes_version,
        arch,
        provider.shell.env,
        Path(ctx.paths.cache_root),
        ctx.profile_name,
        bundle=bool(ctx.options.bundle),
    )


def preload_needed(ctx: Any, provider: Any) -> str | None:
    """The plan line when minikube's cache lacks the room's preload."""
    preload = room_preload(ctx, provider)
    return preload.summary() if preload is not None and preload.missing() else None


def install_preload(ctx: Any, provider: Any) -> None:
    """The room's preload into minikube's cache, before `minikube start`,
    journaled. `down` keeps it (the cluster step's undo skips the entry): it
    is minikube's own cache, which `minikube delete` keeps too (only
    `delete --purge` empties it); other profiles share it, and the next
    `up` of a laptop with no network needs it again."""
    preload = room_preload(ctx, provider)
    if preload is None:
        return
    placed = preload.install(ctx.progress)
    if placed is not None:
        ctx.progress(f"minikube's preload for {preload.k8s} put in {placed.parent}")
        ctx.record(PRELOAD_PLACED, path=str(placed))
