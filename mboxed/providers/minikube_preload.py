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

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mboxed.downloads import Downloader, DownloadError
from mboxed.errors import MboxedError
from mboxed.files import place, sha256_of
from mboxed.pins import Release

PRELOAD_VERSION = "v18"
BUCKET = "minikube-preloaded-volume-tarballs"
GCS = "https://storage.googleapis.com"
# The runtime minikube runs with a room (mboxed.providers.minikube room_start_flags).
RUNTIME = "containerd"
NO_PRELOAD_DRIVERS = ("none", "ssh")  # driver.AllowsPreload: not bare metal, not ssh


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
    """localpath.MiniPath of minikube v1.34.0."""
    given = env.get("MINIKUBE_HOME", "")
    if not given:
        return Path(env.get("HOME") or Path.home()) / ".minikube"
    if Path(given).name == ".minikube":
        return Path(given)
    legacy = Path(given) / ".minikube"
    return legacy if legacy.exists() else Path(given)


def cached_tarball(env: Mapping[str, str], k8s: str, arch: str, runtime: str = RUNTIME) -> Path:
    return minikube_home(env) / "cache" / "preloaded-tarball" / tarball_name(k8s, arch, runtime)


@dataclass
class RoomPreload:
    """The preload for one Kubernetes version and arch, taken from `room`
    into minikube's cache through mboxed's downloads cache (resumed, retried,
    verified; a second run finds it there and asks the room nothing)."""

    room: str
    k8s: str
    arch: str
    env: Mapping[str, str]
    cache_root: Path
    profile: str = ""

    @property
    def path(self) -> Path:
        return cached_tarball(self.env, self.k8s, self.arch)

    @property
    def platform(self) -> str:
        return f"linux/{self.arch}"

    def summary(self) -> str:
        return f"put minikube's preload for {self.k8s} into its cache from the room"

    def _downloader(self) -> Downloader:
        return Downloader(self.cache_root, mirror=self.room)

    def _expected(self, downloader: Downloader) -> str:
        release = preload_release(self.k8s)
        try:
            return downloader.expected_sha256(release, self.platform)
        except DownloadError as exc:
            raise MboxedError(
                f"the room {self.room} has no minikube preload "
                f"{release.file_url(self.platform).rsplit('/', 1)[-1]} "
                f"(Kubernetes {self.k8s}, {self.arch}): {exc.message}",
                hint="on the room's machine: mboxed mirror DIR --profile "
                f"{self.profile or 'P'} (then serve it again), or a newer bundle",
            ) from None

    def missing(self) -> bool:
        """Is the tarball absent from minikube's cache, or not the room's?
        A tarball there that the room cannot vouch for is kept: minikube
        takes any non-empty one (PreloadExists)."""
        path = self.path
        if not path.is_file():
            return True
        try:
            return sha256_of(path) != self._expected(self._downloader())
        except MboxedError:
            return path.stat().st_size == 0

    def install(self) -> Path | None:
        """Put the room's tarball in minikube's cache; None when the right
        one is there already."""
        downloader = self._downloader()
        expected = self._expected(downloader)
        if self.path.is_file() and sha256_of(self.path) == expected:
            return None
        verified = downloader.fetch(preload_release(self.k8s), self.platform, expected)
        place(verified, self.path, expected)  # temp file + rename, a hard link when it can
        return self.path


def room_preload(provider: Any, cache_root: Path, profile: str) -> RoomPreload | None:
    """The preload `provider` needs from its room before creating the
    cluster: a minikube cluster pulling through a room (containerd) with a
    driver that uses preloads; None otherwise."""
    from mboxed.bundle import host_platform

    room = getattr(provider, "room", None)
    spec = provider.spec
    if spec.provider != "minikube" or not room or spec.driver in NO_PRELOAD_DRIVERS:
        return None
    arch = host_platform().partition("/")[2]  # minikube's own GOARCH
    env = provider.shell.env
    return RoomPreload(room, spec.kubernetes_version, arch, env, cache_root, profile)
