"""One `--mirror URL` serves two kinds of requests: the tool downloads
(mboxed.downloads: the upstream path under the mirror's base URL) and the
chart (mboxed.sciencebox.chart: the OCI distribution API, `/v2/...`, under the
same base URL). No single off-the-shelf server does both: a registry answers
only `/v2/`, and a plain file server (the documented `python3 -m http.server`
mirror) has no `/v2/`. A static tree holding the registry's manifest and blobs
at their API paths serves both — shown here against a real docker-registry
and a real HTTP file server on 127.0.0.1.

`mboxed mirror` (mboxed/mirror.py) builds that tree; the tests below build it
from loopback sources, serve it with a real `python3 -m http.server` and
install from it the way laptops do.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from mboxed.download_failures import DownloadError
from mboxed.downloads import Downloader, mirrored
from mboxed.errors import MboxedError
from mboxed.mirror import TOOLS, MirrorBuilder, build_mirror
from mboxed.pins import PINNED, Release
from mboxed.profile import load_profile
from mboxed.providers.kind import INGRESS_NGINX_PATH
from mboxed.sciencebox.chart import OCI_MANIFEST, ChartRef, pull_chart
from tests.file_server import FileServer
from tests.providers.world import mirror_server
from tests.sciencebox.registry import REGISTRY_BIN, chart_tgz, free_port, running_registry

pytestmark = pytest.mark.skipif(REGISTRY_BIN is None, reason="docker-registry not installed")

TOOL = b"#!/bin/sh\necho a tool\n"
RELEASE = Release(
    tool="tool",
    version="v1.0.0",
    url="https://tools.example.org/release/{version}/bin/{os}/{arch}/tool",
    checksum_url="https://tools.example.org/release/{version}/bin/{os}/{arch}/tool.sha256",
    sha256={"linux/amd64": hashlib.sha256(TOOL).hexdigest()},
)
TOOL_PATH = "release/v1.0.0/bin/linux/amd64/tool"


def test_one_mirror_url_serves_tools_and_chart_only_as_a_static_tree(tmp_path: Path) -> None:
    sb = load_profile("demo").profile.sciencebox
    ref = ChartRef.parse(sb.chart, sb.version)
    tgz = chart_tgz("sciencebox", sb.version)
    static = tmp_path / "mirror"
    (static / TOOL_PATH).parent.mkdir(parents=True)
    (static / TOOL_PATH).write_bytes(TOOL)

    with running_registry(tmp_path / "registry", token_auth=False) as registry:
        pushed = registry.push_chart(ref.repository, ref.tag, tgz)

        # 1. the registry as the mirror: the chart comes, the tool does not
        chart = pull_chart(ref, tmp_path / "charts-1", mirror=registry.url)
        assert chart.path.read_bytes() == tgz
        with pytest.raises(DownloadError, match="404"):
            Downloader(tmp_path / "cache-1", mirror=registry.url, attempts=1).fetch(
                RELEASE, "linux/amd64"
            )

        # (an instructor copies the registry's answers into the tree, with curl
        # or as here: the manifest under its tag, the blobs under their digests)
        base = f"{registry.url}/v2/{ref.repository}"
        manifest = requests.get(
            f"{base}/manifests/{ref.tag}", headers={"Accept": OCI_MANIFEST}, timeout=10
        )
        manifest.raise_for_status()
        blobs = [pushed["manifest"]["config"]["digest"], pushed["layer_digest"]]

    with mirror_server(static) as files:
        # 2. the documented file mirror: the tool comes, the chart does not
        got = Downloader(tmp_path / "cache-2", mirror=files, attempts=1).fetch(
            RELEASE, "linux/amd64"
        )
        assert got.read_bytes() == TOOL
        with pytest.raises(MboxedError, match=r"has no version .*HTTP 404"):
            pull_chart(ref, tmp_path / "charts-2", mirror=files)

        # 3. the same tree with the registry's paths added: both come from it
        tree = static / "v2" / ref.repository
        (tree / "manifests").mkdir(parents=True)
        (tree / "manifests" / ref.tag).write_bytes(manifest.content)
        (tree / "blobs").mkdir()
        for digest in blobs:
            (tree / "blobs" / digest).write_bytes((registry.blob_file(digest)).read_bytes())
        chart = pull_chart(ref, tmp_path / "charts-3", mirror=files)
        assert chart.path.read_bytes() == tgz
        assert chart.digest == pushed["layer_digest"]
        got = Downloader(tmp_path / "cache-3", mirror=files, attempts=1).fetch(
            RELEASE, "linux/amd64"
        )
        assert got.read_bytes() == TOOL


# --- `mboxed mirror`: building such a tree ------------------------------------------------

PLATFORMS_UNDER_TEST = ("linux/amd64", "darwin/arm64")
INGRESS_BODY = b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ingress-nginx\n"


@contextlib.contextmanager
def static_server(root: Path) -> Iterator[str]:
    """What the README tells the instructor to run: `python3 -m http.server`,
    a real subprocess on 127.0.0.1 serving `root`."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                requests.get(url + "/", timeout=1)
                break
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("python3 -m http.server did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def tool_releases(files: FileServer) -> dict[str, Release]:
    """Each pinned tool with test bodies served by `files` at the upstream
    paths: linux/amd64 pinned (sum we control), darwin/arm64 not pinned (its
    published checksum file served beside it, as upstream does)."""
    releases: dict[str, Release] = {}
    for tool in TOOLS:
        release = PINNED[tool]
        sums = {}
        for platform in PLATFORMS_UNDER_TEST:
            body = f"{tool} {release.version} {platform}\n".encode() * 100
            served = files.add(urlsplit(release.file_url(platform)).path, body)
            if platform == "linux/amd64":
                sums[platform] = served.sha256
            else:
                name = urlsplit(release.file_url(platform)).path.rsplit("/", 1)[1]
                files.add(
                    urlsplit(release.sum_url(platform)).path, f"{served.sha256}  {name}\n".encode()
                )
        releases[tool] = replace(release, sha256=sums)
    return releases


def builder(
    root: Path,
    cache: Path,
    files: FileServer,
    chart_source: str | None,
    releases: dict[str, Release] | None = None,
) -> MirrorBuilder:
    return MirrorBuilder(
        root,
        cache,
        tool_source=files.url,
        chart_source=chart_source,
        releases=releases if releases is not None else tool_releases(files),
        ingress_sha256=hashlib.sha256(INGRESS_BODY).hexdigest(),
        attempts=1,
    )


def leftovers(root: Path) -> list[str]:
    return [p.name for p in root.rglob("*") if p.name.startswith(".")]


def test_mboxed_mirror_builds_a_tree_laptops_install_from(tmp_path: Path) -> None:
    sb = load_profile("demo").profile.sciencebox
    ref = ChartRef.parse(sb.chart, sb.version)
    tgz = chart_tgz("sciencebox", sb.version)
    root = tmp_path / "room-mirror"
    with FileServer() as files:
        files.add(INGRESS_NGINX_PATH, INGRESS_BODY)
        releases = tool_releases(files)
        # the source registry wants a Bearer token first, as registry.cern.ch does
        with running_registry(tmp_path / "registry", token_auth=True) as registry:
            pushed = registry.push_chart(ref.repository, ref.tag, tgz)
            first = builder(root, tmp_path / "cache", files, registry.url, releases=releases)
            started = time.monotonic()
            build_mirror(
                first, platforms=PLATFORMS_UNDER_TEST, tools=TOOLS, chart=ref, ingress=True
            )
            print(f"first build: {time.monotonic() - started:.2f}s")
            assert registry.token is not None and registry.token.requests

        # 1. the tree: upstream paths, checksum files where no sum is pinned, OCI paths
        for release in releases.values():
            for platform in PLATFORMS_UNDER_TEST:
                path = root / urlsplit(release.file_url(platform)).path.lstrip("/")
                assert (
                    path.read_bytes() == files.files[urlsplit(release.file_url(platform)).path].body
                )
                sum_file = root / urlsplit(release.sum_url(platform)).path.lstrip("/")
                assert sum_file.exists() == (platform == "darwin/arm64")
        tree = root / "v2" / ref.repository
        manifest = json.loads((tree / "manifests" / ref.tag).read_bytes())
        layer_digest = manifest["layers"][0]["digest"]
        assert layer_digest == pushed["layer_digest"]
        assert (tree / "blobs" / layer_digest).read_bytes() == tgz
        assert (tree / "blobs" / manifest["config"]["digest"]).is_file()
        assert (root / INGRESS_NGINX_PATH.lstrip("/")).read_bytes() == INGRESS_BODY
        readme = (root / "README.txt").read_text()
        assert f"mboxed mirror serve {root} --port 8080" in readme
        assert f"python3 -m http.server 8080 --directory {root}" in readme
        assert "mboxed up --mirror http://<this machine>:8080" in readme
        assert leftovers(root) == []
        assert first.result.kept == []

        # 2. a second build downloads nothing: the registry is gone, the file
        #    server sees no request, everything is kept
        before = len(files.requests)
        again = builder(root, tmp_path / "cache-2", files, "http://127.0.0.1:9", releases=releases)
        build_mirror(again, platforms=PLATFORMS_UNDER_TEST, tools=TOOLS, chart=ref, ingress=True)
        assert len(files.requests) == before
        assert again.result.added == []
        assert len(again.result.kept) == len(first.result.added)

    # 3. laptops: `python3 -m http.server` serves the tree; every tool, the
    #    chart and the ingress manifest come from it, verified
    with static_server(root) as served:
        for release in releases.values():
            for platform in PLATFORMS_UNDER_TEST:
                laptop = Downloader(tmp_path / "laptop", mirror=served, attempts=1)
                got = laptop.fetch(release, platform)
                assert got.name == hashlib.sha256(got.read_bytes()).hexdigest()
                assert (
                    got.read_bytes()
                    == (root / urlsplit(release.file_url(platform)).path.lstrip("/")).read_bytes()
                )
        # http.server guesses the type from the file name: not the OCI type
        head = requests.get(f"{served}/v2/{ref.repository}/manifests/{ref.tag}", timeout=10)
        assert head.headers["Content-Type"] == "application/octet-stream" != OCI_MANIFEST
        chart = pull_chart(ref, tmp_path / "laptop-charts", mirror=served)
        assert chart.path.read_bytes() == tgz
        assert chart.digest == pushed["layer_digest"]
        ingress = Downloader(tmp_path / "laptop", mirror=served, attempts=1).download(
            mirrored("https://raw.githubusercontent.com" + INGRESS_NGINX_PATH, served),
            hashlib.sha256(INGRESS_BODY).hexdigest(),
        )
        assert ingress.read_bytes() == INGRESS_BODY


def test_a_tampered_mirror_file_is_refused_by_laptops_and_repaired_by_a_rebuild(
    tmp_path: Path,
) -> None:
    sb = load_profile("demo").profile.sciencebox
    ref = ChartRef.parse(sb.chart, sb.version)
    root = tmp_path / "room-mirror"
    with FileServer() as files, running_registry(tmp_path / "reg", token_auth=False) as registry:
        releases = tool_releases(files)
        registry.push_chart(ref.repository, ref.tag, chart_tgz("sciencebox", sb.version))
        build = builder(root, tmp_path / "cache", files, registry.url, releases=releases)
        build_mirror(
            build, platforms=PLATFORMS_UNDER_TEST, tools=["helm"], chart=ref, ingress=False
        )
        helm = releases["helm"]
        tampered = [
            root / urlsplit(helm.file_url(p)).path.lstrip("/") for p in PLATFORMS_UNDER_TEST
        ]
        layer = json.loads((root / "v2" / ref.repository / "manifests" / ref.tag).read_bytes())[
            "layers"
        ][0]["digest"]
        blob = root / "v2" / ref.repository / "blobs" / layer
        for path in [*tampered, blob]:
            path.write_bytes(path.read_bytes()[:-1] + b"X")

        with static_server(root) as served:
            for platform in PLATFORMS_UNDER_TEST:  # pinned, and via the checksum file
                laptop = Downloader(tmp_path / "laptop", mirror=served, attempts=1)
                with pytest.raises(DownloadError, match="checksum mismatch"):
                    laptop.fetch(helm, platform)
            with pytest.raises(MboxedError, match="refused"):
                pull_chart(ref, tmp_path / "laptop-charts", mirror=served)
            assert not list((tmp_path / "laptop").glob("downloads/[0-9a-f]*"))

        # the next build finds the damage and fetches those files again
        rebuild = builder(root, tmp_path / "cache", files, registry.url, releases=releases)
        build_mirror(
            rebuild, platforms=PLATFORMS_UNDER_TEST, tools=["helm"], chart=ref, ingress=False
        )
        assert {str(p.relative_to(root)) for p in [*tampered, blob]} <= set(rebuild.result.added)
        with static_server(root) as served:
            for platform in PLATFORMS_UNDER_TEST:
                Downloader(tmp_path / "laptop-2", mirror=served, attempts=1).fetch(helm, platform)
            pull_chart(ref, tmp_path / "laptop-charts-2", mirror=served)


def test_a_missing_source_file_fails_the_build_naming_it_and_leaves_no_partial_file(
    tmp_path: Path,
) -> None:
    root = tmp_path / "room-mirror"
    with FileServer() as files:
        releases = tool_releases(files)
        kind_url = urlsplit(releases["kind"].file_url("linux/amd64")).path
        del files.files[kind_url]
        build = builder(root, tmp_path / "cache", files, None, releases=releases)
        with pytest.raises(DownloadError) as failed:
            build_mirror(build, platforms=["linux/amd64"], tools=TOOLS, chart=None, ingress=False)
    message = str(failed.value)
    assert message == f"cannot download {files.url}{kind_url}: HTTP 404 Not Found"
    assert not (root / kind_url.lstrip("/")).exists()
    assert leftovers(root) == []
    assert not list((tmp_path / "cache" / "downloads").glob("*.part"))
    assert len(build.result.added) == 3  # the tools before it are there, verified


def test_a_mirror_dir_that_cannot_be_made_is_an_error_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    build = MirrorBuilder(blocker / "room-mirror", tmp_path / "cache")
    with pytest.raises(MboxedError) as failed:  # it was a crash report (NotADirectoryError)
        build_mirror(build, platforms=["linux/amd64"], tools=[], chart=None, ingress=False)
    assert failed.value.message.startswith(f"mirror DIR: cannot create {blocker / 'room-mirror'}")


def test_a_chart_blob_missing_at_the_source_leaves_no_tag_in_the_mirror(tmp_path: Path) -> None:
    sb = load_profile("demo").profile.sciencebox
    ref = ChartRef.parse(sb.chart, sb.version)
    source, root = tmp_path / "source", tmp_path / "room-mirror"
    with running_registry(tmp_path / "reg", token_auth=False) as registry:
        registry.push_chart(ref.repository, ref.tag, chart_tgz("sciencebox", sb.version))
        with FileServer() as files:
            build_mirror(
                builder(source, tmp_path / "cache", files, registry.url),
                platforms=[],
                tools=[],
                chart=ref,
                ingress=False,
            )
    manifest = json.loads((source / "v2" / ref.repository / "manifests" / ref.tag).read_bytes())
    layer = manifest["layers"][0]["digest"]
    (source / "v2" / ref.repository / "blobs" / layer).unlink()
    with static_server(source) as served, FileServer() as files:
        build = builder(root, tmp_path / "cache", files, served)
        with pytest.raises(MboxedError, match=f"HTTP 404 for {served}/v2/.*/blobs/{layer}"):
            build_mirror(build, platforms=[], tools=[], chart=ref, ingress=False)
    tree = root / "v2" / ref.repository
    assert not (tree / "manifests").exists()
    assert not (tree / "blobs" / layer).exists()
    assert leftovers(root) == []


def test_a_broken_build_leaves_no_half_file_and_the_next_one_resumes_it(tmp_path: Path) -> None:
    root = tmp_path / "room-mirror"

    def only_minikube(build: MirrorBuilder) -> None:
        build_mirror(
            build, platforms=["linux/amd64"], tools=["minikube"], chart=None, ingress=False
        )

    with FileServer() as files:
        releases = tool_releases(files)
        path = urlsplit(releases["minikube"].file_url("linux/amd64")).path
        # 512 KiB, and every answer stops halfway: the link is lost
        big = files.add(path, bytes(range(256)) * 2048, sticky="drop")
        releases["minikube"] = replace(releases["minikube"], sha256={"linux/amd64": big.sha256})
        build = builder(root, tmp_path / "cache", files, None, releases=releases)
        with pytest.raises(DownloadError, match="failed after 1 attempts"):
            only_minikube(build)
        assert not (root / path.lstrip("/")).exists()
        assert leftovers(root) == []
        partial = next((tmp_path / "cache" / "downloads").glob("*.part"))
        size = partial.stat().st_size
        assert 0 < size < len(big.body)

        big.sticky = None  # the link is back
        files.requests.clear()
        again = builder(root, tmp_path / "cache", files, None, releases=releases)
        only_minikube(again)
        assert (root / path.lstrip("/")).read_bytes() == big.body
        assert files.hits(path) == [f"bytes={size}-"]  # resumed where it broke, not restarted
        assert leftovers(root) == []


def test_cached_helm_is_unpacked_from_the_verified_archive_and_never_downloaded(
    tmp_path: Path,
) -> None:
    """The mirror renders the chart with the helm it just cached: the pinned
    archive for this machine, unpacked once; nothing cached, no helm."""
    import io
    import tarfile

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        body = b"#!/bin/sh\necho helm\n"
        info = tarfile.TarInfo("linux-amd64/helm")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    archive = raw.getvalue()
    digest = hashlib.sha256(archive).hexdigest()
    helm = replace(PINNED["helm"], sha256={"linux/amd64": digest})
    builder = MirrorBuilder(tmp_path / "room", tmp_path / "cache", releases={"helm": helm})
    assert builder.cached_helm("linux/amd64") is None  # not cached: no download either
    assert builder.cached_helm("linux/arm64") is None  # no pinned sum for it here
    (builder.downloader.cache_dir / digest).parent.mkdir(parents=True, exist_ok=True)
    (builder.downloader.cache_dir / digest).write_bytes(archive)
    binary = builder.cached_helm("linux/amd64")
    assert binary is not None and binary.read_bytes() == body
    assert binary.stat().st_mode & 0o111
    assert builder.cached_helm("linux/amd64") == binary


def _https(files: FileServer, tmp_path: Path) -> Path:
    """Serve `files` over TLS with a certificate for localhost: a github.com
    stand-in (a file with no known sum is only ever fetched over HTTPS).
    Returns the CA file a client trusts."""
    import ssl

    from mboxed.sciencebox.tls import issue, make_ca

    ca = make_ca("github stand-in CA")
    served = issue(ca, "localhost")
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    (tmp_path / "server.pem").write_bytes(served.cert_pem + served.key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.pem")
    files.httpd.socket = context.wrap_socket(files.httpd.socket, server_side=True)
    return tmp_path / "ca.pem"


def test_cernbox_web_assets_recorded_at_first_download_travel_in_the_room_and_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mboxed.bundle import open_bundle, serve_bundle, write_bundle
    from mboxed.sciencebox import web_assets as wa

    bodies = {"web": b"web build " * 5000, "theme": b"theme " * 300}
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # they override session.verify
        monkeypatch.delenv(name, raising=False)
    files = FileServer()
    ca = _https(files, tmp_path)
    room = tmp_path / "room"
    with files:
        base = f"https://localhost:{files.httpd.server_address[1]}"
        assets = tuple(replace(a, url=base + urlsplit(a.url).path) for a in wa.ASSETS)
        for asset in assets:
            files.add(urlsplit(asset.url).path, bodies[asset.name])
        builder = MirrorBuilder(room, tmp_path / "cache", web_assets=assets)
        builder.downloader.session.verify = str(ca)
        build = lambda: build_mirror(  # noqa: E731
            builder, platforms=["linux/amd64"], tools=[], chart=None, ingress=False, web_assets=True
        )
        result = build()
        paths = [urlsplit(a.url).path.lstrip("/") for a in assets]
        assert paths[0] == "cernbox/web-release/releases/download/v0.0.9/web.tar.gz"
        for asset, rel in zip(assets, paths, strict=True):
            sha = hashlib.sha256(bodies[asset.name]).hexdigest()
            assert (room / rel).read_bytes() == bodies[asset.name]
            assert (room / f"{rel}.sha256").read_text() == f"{sha}  {Path(rel).name}\n"
            assert builder.downloader.recorded.get(asset.url) == sha
        assert sorted(result.added) == sorted([*paths, *(f"{p}.sha256" for p in paths)])
        asked = len(files.requests)
        builder.result = type(result)()
        again = build()
        assert again.added == [] and len(files.requests) == asked  # kept, verified

    # the upstream is gone: the bundle carries both files and their sums
    members = sorted({*result.added, *result.kept})
    write_bundle(tmp_path / "sb.tar", room, members, profile="demo", platforms=["linux/amd64"])
    manifest = open_bundle(tmp_path / "sb.tar").manifest["members"]
    for asset, rel in zip(assets, paths, strict=True):
        sha = hashlib.sha256(bodies[asset.name]).hexdigest()
        assert manifest[f"room/{rel}"]["sha256"] == sha
        assert f"room/{rel}.sha256" in manifest

    # a laptop's `up --bundle` (and `--mirror`, the same room API) takes them from it
    served = serve_bundle(tmp_path / "sb.tar", tmp_path / "marker", "127.0.0.1")
    try:
        laptop = Downloader(tmp_path / "laptop", mirror=served.url(), attempts=1)
        for asset in assets:
            got = laptop.fetch_recorded(asset.url)
            assert got.read_bytes() == bodies[asset.name]
            assert laptop.recorded.get(asset.url) == got.name
    finally:
        served.stop()

    # a room whose file was swapped (sum file kept) is refused by the laptop
    (room / paths[1]).write_bytes(b"not the theme")
    with static_server(room) as url:
        other = Downloader(tmp_path / "laptop2", mirror=url, attempts=1)
        with pytest.raises(DownloadError, match="checksum mismatch"):
            other.fetch_recorded(assets[1].url)
