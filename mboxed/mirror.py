"""Build a classroom mirror: one directory that `mboxed mirror serve` (or, for
tools and the chart alone, a plain static file server such as
`python3 -m http.server`) serves as the `--mirror URL` of every laptop. The
images half is mboxed/images/mirror.py.

`--mirror URL` is read two ways (see mboxed.downloads and
mboxed.sciencebox.chart): tool downloads take their upstream path under URL,
and the chart step speaks the OCI distribution API under URL
(`GET URL/v2/<repository>/manifests/<tag>`, `GET URL/v2/<repository>/blobs/<digest>`,
opencontainers/distribution-spec spec.md "Pulling manifests", "Pulling blobs").
Both are plain GETs of fixed paths, so a directory holding

    <upstream path of each tool file>          (+ its checksum file where no sum is pinned)
    v2/<repository>/manifests/<tag>            the chart's OCI manifest, byte for byte
    v2/<repository>/manifests/sha256:<hex>     the same, under its digest
    v2/<repository>/blobs/sha256:<hex>         the config and every layer
    <upstream path of the ingress-nginx kind manifest>
    <upstream path of cernbox-web's two asset files>  (+ <file>.sha256)
    <upstream path of minikube's preload>      (+ <name>.sha256: mboxed.mirror_preload)

serves both. Every file is verified before it is put at its final path
(pinned or published sha256 for tools, the manifest's digests for the chart)
and is put there atomically, so a broken run leaves no half file and a second
run keeps what is there and verified, downloading nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mboxed.downloads import Downloader, check_mirror
from mboxed.errors import MboxedError
from mboxed.files import (
    TMP_SUFFIX,
    install_file,
    parse_checksum_file,
    place,
    sha256_of,
    write_atomic,
)
from mboxed.pins import PINNED, PLATFORMS, Release
from mboxed.providers.minikube_preload import GCS
from mboxed.registry import RegistryClient
from mboxed.sciencebox.chart import (
    ChartRef,
    chart_layer,
    chart_metadata,
    download_chart_blob,
    fetch_chart_manifest,
)

TOOLS = ("kubectl", "helm", "minikube", "kind")
README = "README.txt"


@dataclass
class MirrorResult:
    added: list[str] = field(default_factory=list)  # paths relative to the mirror dir
    kept: list[str] = field(default_factory=list)
    added_bytes: int = 0


@dataclass
class MirrorBuilder:
    """Fills `root`. `tool_source` / `chart_source`: a mirror to copy from
    instead of upstream (`--mirror URL` passes the same URL to both)."""

    root: Path
    cache_root: Path
    tool_source: str | None = None
    chart_source: str | None = None
    releases: Mapping[str, Release] = field(default_factory=lambda: dict(PINNED))
    ingress_sha256: str | None = None  # default: the sum pinned in mboxed.providers.kind
    web_assets: tuple[Any, ...] | None = None  # default: mboxed.sciencebox.web_assets.ASSETS
    progress: Callable[[str], None] = lambda line: None
    attempts: int = 4
    gcs: str = GCS  # where minikube's preloads are (tests: loopback)
    result: MirrorResult = field(default_factory=MirrorResult)

    def __post_init__(self) -> None:
        if self.tool_source:
            self.tool_source = check_mirror(self.tool_source)
        if self.chart_source:
            self.chart_source = check_mirror(self.chart_source)
        self.downloader = Downloader(
            self.cache_root, mirror=self.tool_source, attempts=self.attempts, progress=self.progress
        )

    # -- files in the mirror ---------------------------------------------------------
    def target(self, upstream_url: str) -> Path:
        path = urlsplit(upstream_url).path.lstrip("/")
        if not path or ".." in path.split("/"):
            raise MboxedError(f"cannot place {upstream_url} in a mirror: bad path")
        return self.root / path

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def sweep(self) -> None:
        """Remove temp files a broken earlier run left (never a final file)."""
        if not self.root.is_dir():
            return
        for path in self.root.rglob(f"*{TMP_SUFFIX}"):
            if path.is_file() and path.name.startswith("."):
                path.unlink(missing_ok=True)
        # RegistryClient.download_blob's temp files (".part-*" beside the blob)
        for path in (self.root / "v2").glob("**/blobs/.part-*"):
            if path.is_file():
                path.unlink(missing_ok=True)

    def _kept(self, path: Path) -> None:
        self.result.kept.append(self._rel(path))

    def _added(self, path: Path) -> None:
        self.result.added.append(self._rel(path))
        self.result.added_bytes += path.stat().st_size
        self.progress(f"added {self._rel(path)}")

    # -- tools, and minikube's preload ------------------------------------------------------
    def add_tool(self, tool: str, platform: str) -> None:
        release = self.releases[tool]
        self.add_release(release, platform, lambda: self.downloader.fetch(release, platform))

    def add_preload(self, k8s: str, arch: str) -> None:
        """minikube's preload for Kubernetes `k8s` on linux/`arch` (the
        containerd runtime a room uses), at its upstream path: from upstream
        checked against its GCS MD5 (mboxed.mirror_preload), or from the
        source room checked against its recorded sha256."""
        from mboxed.mirror_preload import fetch_upstream
        from mboxed.providers.minikube_preload import preload_release

        release, platform = preload_release(k8s), f"linux/{arch}"
        if self.tool_source:
            fetch = lambda: self.downloader.fetch(release, platform)  # noqa: E731
        else:
            fetch = lambda: fetch_upstream(self.downloader, release, platform, self.gcs)  # noqa: E731
        self.add_release(release, platform, fetch)

    def add_release(self, release: Release, platform: str, fetch: Callable[[], Path]) -> None:
        """`release`'s file for `platform` at its upstream path (kept when
        there and verified), with its sha256 file beside it unless pinned.
        `fetch`: the verified file, named by its sha256 (the downloads cache)."""
        upstream = release.file_url(platform)
        dest = self.target(upstream)
        pinned = release.pinned(platform)
        sum_dest = None if pinned else self.target(release.sum_url(platform))
        if dest.is_file():
            expected = pinned or _sum_in(sum_dest, dest.name)
            if expected and sha256_of(dest) == expected:
                self._kept(dest)
                if sum_dest is not None:
                    self._kept(sum_dest)
                return
        self.progress(f"{release.tool} {release.version} {platform}: fetching")
        verified = fetch()
        expected = verified.name  # the cache names a verified file by its sha256
        place(verified, dest, expected)
        self._added(dest)
        if sum_dest is not None:
            # The checksum file laptops fetch beside the file, sha256sum format
            # (mboxed.files.parse_checksum_file reads it).
            write_atomic(sum_dest, f"{expected}  {dest.name}\n".encode())
            self._added(sum_dest)

    # -- the chart -----------------------------------------------------------------------
    def add_chart(self, ref: ChartRef) -> None:
        tree = self.root / "v2" / ref.repository
        by_tag = tree / "manifests" / ref.tag
        if by_tag.is_file() and self._chart_complete(ref, by_tag.read_bytes()):
            body = by_tag.read_bytes()
            by_digest = tree / "manifests" / ("sha256:" + hashlib.sha256(body).hexdigest())
            for path in (by_digest, by_tag):
                if path.is_file() and path.read_bytes() == body:
                    self._kept(path)
                else:
                    write_atomic(path, body)
                    self._added(path)
            return
        client = RegistryClient(ref.base_url(self.chart_source))
        where = f"{ref.url}:{ref.tag} (from {client.base_url})"
        self.progress(f"chart {ref.url}:{ref.tag}: fetching the manifest from {client.base_url}")
        fetched = fetch_chart_manifest(client, ref)  # its digest checked against its bytes
        manifest, body, actual = fetched.manifest, fetched.body, fetched.digest
        layer = chart_layer(manifest, where)
        for blob in _blob_digests(manifest, where):
            dest = tree / "blobs" / blob
            if dest.is_file() and "sha256:" + sha256_of(dest) == blob:
                self._kept(dest)
                continue
            self.progress(f"chart {ref.url}:{ref.tag}: fetching blob {blob[:19]}…")
            download_chart_blob(client, ref, blob, dest)  # verified, atomic
            self._added(dest)
        meta = chart_metadata(tree / "blobs" / str(layer["digest"]))
        version = str(meta.get("version", ""))
        if version and version.replace("+", "_") != ref.tag:
            raise MboxedError(f"{where}: the chart inside says version {version}, not {ref.tag}")
        # The manifest last, under its digest and then its tag: a tag in the
        # mirror always points at blobs that are all there.
        by_digest = tree / "manifests" / actual
        write_atomic(by_digest, body)
        write_atomic(by_tag, body)
        self._added(by_digest)
        self._added(by_tag)

    def _chart_complete(self, ref: ChartRef, body: bytes) -> bool:
        tree = self.root / "v2" / ref.repository
        try:
            manifest = json.loads(body)
            digests = _blob_digests(manifest, str(tree))
        except (ValueError, MboxedError):
            return False
        for blob in digests:
            path = tree / "blobs" / blob
            if not path.is_file() or "sha256:" + sha256_of(path) != blob:
                return False
            self._kept(path)
        return True

    def chart_archive(self, ref: ChartRef) -> Path:
        """The stored chart's .tgz (its layer blob, named by digest): what
        `helm template` renders (helm reads an archive whatever its name)."""
        tree = self.root / "v2" / ref.repository
        manifest = json.loads((tree / "manifests" / ref.tag).read_bytes())
        return tree / "blobs" / str(chart_layer(manifest, str(tree))["digest"])

    def cached_helm(self, platform: str) -> Path | None:
        """The pinned helm for `platform` when its verified archive is in the
        downloads cache (add_tool put it there), unpacked once beside the
        cache; None when it is not cached (nothing is downloaded)."""
        release = self.releases["helm"]
        pinned = release.pinned(platform)
        archive = self.downloader.cached(pinned) if pinned else None
        if archive is None or pinned is None:
            return None
        binary = self.cache_root / "bin" / f"helm-{release.version}-{pinned[:12]}"
        if not binary.is_file():
            install_file(archive, binary, release.archive_member(platform))
        return binary

    # -- the ingress-nginx manifest (kind) -------------------------------------------------
    def add_ingress_manifest(self) -> None:
        from mboxed.providers import kind

        upstream = kind.INGRESS_NGINX_HOST + kind.INGRESS_NGINX_PATH
        dest = self.target(upstream)
        pinned = self.ingress_sha256 or kind.INGRESS_NGINX_SHA256
        if dest.is_file() and sha256_of(dest) == pinned:
            self._kept(dest)
            return
        self.progress(f"ingress-nginx {kind.INGRESS_NGINX_VERSION} kind manifest: fetching")
        url = self.downloader.url_for(upstream)
        verified = self.downloader.cached(pinned) or self.downloader.download(
            url, pinned, label="ingress-nginx kind manifest"
        )
        place(verified, dest, pinned)
        self._added(dest)

    # -- cernbox-web's web assets ------------------------------------------------------
    def add_web_assets(self) -> None:
        """Both files at their upstream paths, each with a `<file>.sha256`
        beside it: no upstream publishes their sums, so the room carries the
        one recorded at its first download (mboxed.downloads.fetch_recorded),
        and laptops check against it."""
        from mboxed.downloads import SUM_SUFFIX
        from mboxed.sciencebox.web_assets import ASSETS

        for asset in self.web_assets or ASSETS:
            dest = self.target(asset.url)
            sum_dest = dest.with_name(dest.name + SUM_SUFFIX)
            expected = _sum_in(sum_dest, dest.name)
            if expected and dest.is_file() and sha256_of(dest) == expected:
                self._kept(dest)
                self._kept(sum_dest)
                continue
            self.progress(f"cernbox-web {asset.filename}: fetching")
            verified = self.downloader.fetch_recorded(asset.url, label=asset.filename)
            place(verified, dest, verified.name)
            self._added(dest)
            write_atomic(sum_dest, f"{verified.name}  {dest.name}\n".encode())
            self._added(sum_dest)

    # -- the README ----------------------------------------------------------------------
    def write_readme(self, port: int = 8080) -> Path:
        path = self.root / README
        text = readme_text(self.root, port)
        if not path.is_file() or path.read_text() != text:
            write_atomic(path, text.encode())
        return path


def build_mirror(
    builder: MirrorBuilder,
    *,
    platforms: Sequence[str],
    tools: Iterable[str],
    chart: ChartRef | None,
    ingress: bool,
    web_assets: bool = False,
    preload: str | None = None,
) -> MirrorResult:
    """`preload`: the Kubernetes version whose minikube preload to store, for
    the architecture of each platform."""
    try:
        builder.root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MboxedError(
            f"mirror DIR: cannot create {builder.root}: {exc.strerror or exc}",
            hint="give a directory you can write to (it is created when missing)",
        ) from None
    builder.sweep()
    for tool in tools:
        for platform in platforms:
            builder.add_tool(tool, platform)
    if chart is not None:
        builder.add_chart(chart)
    if ingress:
        builder.add_ingress_manifest()
    if web_assets:
        builder.add_web_assets()
    if preload:
        for arch in dict.fromkeys(p.partition("/")[2] for p in platforms):
            builder.add_preload(preload, arch)
    builder.write_readme()
    return builder.result


def parse_platforms(values: Sequence[str]) -> list[str]:
    split = (p.strip() for value in values for p in value.split(",") if p.strip())
    chosen = list(dict.fromkeys(split)) or list(PLATFORMS)
    return _only(
        chosen,
        PLATFORMS,
        "--platform {!r} is not one mboxed downloads for",
        "use one of " + ", ".join(PLATFORMS) + " (repeatable or comma-separated)",
    )


def parse_tools(value: str | None) -> list[str]:
    if value is None:
        return list(TOOLS)
    if value.strip() == "none":
        return []
    chosen = list(dict.fromkeys(t.strip() for t in value.split(",") if t.strip()))
    return _only(
        chosen,
        TOOLS,
        "--tools: {!r} is not a tool mboxed downloads",
        "give a comma-separated subset of " + ",".join(TOOLS) + ", or none",
    )


def _only(chosen: list[str], known: Sequence[str], problem: str, hint: str) -> list[str]:
    """`chosen` when each is one of `known`; else the first stranger, named."""
    for value in chosen:
        if value not in known:
            raise MboxedError(problem.format(value), hint=hint)
    return chosen


def readme_text(root: Path, port: int = 8080) -> str:
    return (
        "A classroom mirror for mboxed, built by `mboxed mirror`.\n\n"
        "Serve this directory from this machine (files and images, read-only):\n\n"
        f"    mboxed mirror serve {root} --port {port}\n\n"
        "(tools and the chart alone also work from any static file server:\n"
        f"`python3 -m http.server {port} --directory {root}`; images need the\n"
        "command above), and on every laptop (this machine's address on the\n"
        "room's network: `hostname -I` on Linux, `ipconfig getifaddr en0` on macOS):\n\n"
        f"    mboxed up --mirror http://<this machine>:{port}\n"
        f"    mboxed doctor --mirror http://<this machine>:{port}    # reachable?\n\n"
        "Laptops verify every file against the sha256 mboxed pins (or the\n"
        "checksum file beside it), the chart against its manifest's digests and\n"
        "every image layer against its digest: a mirror cannot hand out a\n"
        "different file. Run `mboxed mirror` again to complete or check it;\n"
        "files already here and verified are kept.\n"
    )


# --- helpers ------------------------------------------------------------------------


def _blob_digests(manifest: Any, where: str) -> list[str]:
    """The config's and every layer's digest (all sha256), in order."""
    if not isinstance(manifest, dict):
        raise MboxedError(f"{where}: the manifest is not a JSON object")
    entries = [manifest.get("config"), *(manifest.get("layers") or [])]
    digests: list[str] = []
    for entry in entries:
        digest = str(entry.get("digest", "")) if isinstance(entry, dict) else ""
        algorithm, _, hexdigest = digest.partition(":")
        if algorithm != "sha256" or len(hexdigest) != 64 or not _is_hex(hexdigest):
            raise MboxedError(f"{where}: manifest digest {digest!r} is not a sha256 digest")
        if digest not in digests:
            digests.append(digest)
    return digests


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


def _sum_in(sum_file: Path | None, filename: str) -> str | None:
    if sum_file is None or not sum_file.is_file():
        return None
    try:
        return parse_checksum_file(sum_file.read_text(errors="replace"), filename)
    except ValueError:
        return None
