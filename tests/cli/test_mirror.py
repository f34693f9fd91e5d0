"""`mboxed mirror DIR` as an instructor runs it: a real `python -m mboxed`
process that copies from another mirror on 127.0.0.1 (`--mirror URL`, the
static tree that `python3 -m http.server` serves)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from mboxed.profile import load_profile
from mboxed.providers.kind import INGRESS_NGINX_PATH
from mboxed.sciencebox.chart import ChartRef
from tests.cli.test_doctor import mboxed
from tests.file_server import FileServer
from tests.preload import room_path, seed_preload
from tests.sciencebox.registry import chart_tgz, helm_chart_manifest
from tests.test_mirror import static_server


def chart_tree(root: Path, ref: ChartRef, tgz: bytes) -> str:
    """The chart at its OCI paths in a static tree, as `helm push` stores it
    (helm/helm pkg/registry/client.go Push: config blob, one chart layer)."""
    config, manifest = helm_chart_manifest("sciencebox", ref.tag, tgz)
    tree = root / "v2" / ref.repository
    (tree / "blobs").mkdir(parents=True)
    (tree / "manifests").mkdir()
    for blob, body in ((manifest["config"], config), (manifest["layers"][0], tgz)):
        (tree / "blobs" / blob["digest"]).write_bytes(body)
    (tree / "manifests" / ref.tag).write_text(json.dumps(manifest))
    return str(manifest["layers"][0]["digest"])


def web_assets_tree(root: Path) -> None:
    """cernbox-web's two asset files, each with its `.sha256`, at their
    upstream paths: what a room built earlier holds (mboxed.mirror)."""
    import hashlib
    from urllib.parse import urlsplit

    from mboxed.sciencebox.web_assets import ASSETS

    for asset in ASSETS:
        path = root / urlsplit(asset.url).path.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        body = f"{asset.name} release file".encode()
        path.write_bytes(body)
        sha = hashlib.sha256(body).hexdigest()
        path.with_name(path.name + ".sha256").write_text(f"{sha}  {path.name}\n")


def test_mirror_copies_the_chart_from_another_mirror_and_a_second_run_downloads_nothing(
    tmp_path: Path,
) -> None:
    sb = load_profile("demo").profile.sciencebox
    ref = ChartRef.parse(sb.chart, sb.version)
    tgz = chart_tgz("sciencebox", sb.version)
    layer = chart_tree(tmp_path / "source", ref, tgz)
    web_assets_tree(tmp_path / "source")
    preloads = {arch: seed_preload(tmp_path / "source", arch) for arch in ("amd64", "arm64")}
    room = tmp_path / "room"
    args = ("mirror", str(room), "--tools", "none", "--profile", "demo", "--images", "none")
    with static_server(tmp_path / "source") as source:
        first = mboxed(*args, "--mirror", source)
        assert first.returncode == 0, first.stderr
        assert "12 file(s) added" in first.stdout  # the chart's 4, web assets' 4, 2 preloads + sums
        second = mboxed(*args, env={"MBOXED_MIRROR": "http://127.0.0.1:9"})  # nothing there
    assert second.returncode == 0, second.stderr
    assert "nothing to download: all 12 file(s) already here, verified" in second.stdout
    for arch, body in preloads.items():  # the demo profile runs minikube: its preloads
        assert (room / room_path(arch)).read_bytes() == body
    assert f"mboxed mirror serve {room} --port 8080" in second.stdout
    tree = room / "v2" / ref.repository
    assert (tree / "blobs" / layer).read_bytes() == tgz
    assert (tree / "manifests" / ref.tag).read_bytes() == (
        tmp_path / "source" / "v2" / ref.repository / "manifests" / ref.tag
    ).read_bytes()
    assert (room / "README.txt").is_file()
    # the demo profile runs minikube: no kind ingress manifest
    assert not (room / INGRESS_NGINX_PATH.lstrip("/")).exists()


def test_a_file_the_source_lacks_fails_with_one_line_naming_it(tmp_path: Path) -> None:
    room = tmp_path / "room"
    with FileServer() as empty:
        result = mboxed(
            "mirror", str(room), "--platform", "linux/amd64", "--tools", "helm",
            "--mirror", empty.url,
        )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == (
        f"error: cannot download {empty.url}/helm-v3.18.4-linux-amd64.tar.gz: HTTP 404 Not Found"
    )
    assert lines[1].startswith("hint: check that the mirror")
    assert not (room / "helm-v3.18.4-linux-amd64.tar.gz").exists()
    assert [p.name for p in room.iterdir()] == []


def test_all_adds_the_kind_ingress_manifest_and_a_missing_one_is_named(tmp_path: Path) -> None:
    sb = load_profile("demo").profile.sciencebox
    ref = ChartRef.parse(sb.chart, sb.version)
    chart_tree(tmp_path / "source", ref, chart_tgz("sciencebox", sb.version))
    with static_server(tmp_path / "source") as source:
        result = mboxed(
            "mirror", str(tmp_path / "room"), "--tools", "none", "--all", "--mirror", source,
            "--images", "none",
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        f"error: cannot download {source}{INGRESS_NGINX_PATH}: HTTP 404 File not found"
    )


def test_bad_platform_and_tool_are_named(tmp_path: Path) -> None:
    result = mboxed("mirror", str(tmp_path / "room"), "--platform", "windows/amd64")
    assert result.returncode == 1
    assert result.stderr.startswith("error: --platform 'windows/amd64' is not one mboxed")
    result = mboxed("mirror", str(tmp_path / "room"), "--tools", "kubectl,docker")
    assert result.returncode == 1
    assert result.stderr.startswith("error: --tools: 'docker' is not a tool mboxed downloads")
    assert not (tmp_path / "room").exists()


def test_a_kind_profile_adds_the_ingress_manifest_checked_against_its_pinned_sum(
    tmp_path: Path,
) -> None:
    sb = load_profile("demo").profile.sciencebox
    ref = ChartRef.parse(sb.chart, sb.version)
    source = tmp_path / "source"
    chart_tree(source, ref, chart_tgz("sciencebox", sb.version))
    wrong = source / INGRESS_NGINX_PATH.lstrip("/")
    wrong.parent.mkdir(parents=True)
    wrong.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: not-upstream}\n")
    room = tmp_path / "room"
    with static_server(source) as served:
        result = mboxed(
            "mirror", str(room), "--tools", "none", "--set", "provider.name=kind",
            "--mirror", served, "--images", "none",
        )  # fmt: skip
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"error: checksum mismatch for {served}{INGRESS_NGINX_PATH}")
    assert not (room / INGRESS_NGINX_PATH.lstrip("/")).exists()
    assert (room / "v2" / ref.repository / "manifests" / ref.tag).is_file()  # the chart came


def test_images_come_from_a_real_registry_and_serve_answers_docker_paths(tmp_path: Path) -> None:
    """`mboxed mirror DIR --image REF` stores an image; `mboxed mirror serve
    DIR` (a real process) serves it and the files tree on one port."""
    from tests.images.built import image, push
    from tests.sciencebox.registry import free_port, running_registry

    room = tmp_path / "room"
    with running_registry(tmp_path / "upstream", token_auth=False) as registry:
        built = push(registry, image("sciencebox/cli", "1.0", layers=2))
        upstream = registry.url.removeprefix("http://")
        sb = load_profile("demo").profile.sciencebox
        ref = ChartRef.parse(sb.chart, sb.version)
        registry.push_chart(ref.repository, ref.tag, chart_tgz("sciencebox", sb.version))
        common = ("mirror", str(room), "--tools", "none", "--images", "none")
        web_assets_tree(room)  # the registry stand-in serves no files
        for arch in ("amd64", "arm64"):  # minikube's preloads, as if stored before (kept)
            seed_preload(room, arch)
        chart = mboxed(*common, "--mirror", registry.url)  # the chart, from a stand-in
        assert chart.returncode == 0, chart.stderr
        # the chart is kept; the image comes from its own registry
        image_ref = f"{upstream}/{built.name}:1.0"
        result = mboxed(*common, "--platform", "linux/amd64,darwin/arm64", "--image", image_ref)
    assert result.returncode == 0, result.stderr
    assert "1 image(s)" in result.stdout
    namespace = upstream.replace(":", "_")
    manifest = room / "v2" / namespace / built.name / "manifests" / "1.0"
    assert manifest.read_bytes() == built.manifest

    import subprocess
    import sys
    import time

    import requests

    from tests.cli.run import REPO

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mboxed", "mirror", "serve", str(room), "--port", str(port),
         "--bind", "127.0.0.1"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"{base}/v2/", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.1)
        got = requests.get(f"{base}/v2/{namespace}/{built.name}/manifests/1.0", timeout=5)
        assert got.headers["Docker-Content-Digest"] == built.digest
        assert requests.get(f"{base}/README.txt", timeout=5).status_code == 200
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=10)
    assert f"GET /v2/{namespace}/{built.name}/manifests/1.0 200" in out


# The model chart's images with the demo profile (tests/charts/sciencebox):
# what `helm template` of it lists, the SWAN user pod's included.
MODEL_CHART_IMAGES = (
    "docker.io/bitnamilegacy/nginx:1.23.3-debian-11-r8",
    "docker.io/cs3org/revad:v1.19.0",
    "docker.io/jupyterhub/k8s-network-tools:1.2.0",
    "docker.io/library/busybox:stable",
    "docker.io/osixia/openldap:1.5.0",
    "gitlab-registry.cern.ch/dss/eos/eos-all:5.0.31",
    "gitlab-registry.cern.ch/swan/docker-images/jupyterhub:v1.23",
    "gitlab-registry.cern.ch/swan/docker-images/systemuser:v5.14.1",
)


def test_mirror_renders_the_profiles_chart_itself_and_stores_every_image(
    tmp_path: Path, real_helm: Any
) -> None:
    """No --rendered: the chart just stored is rendered with real helm (on
    PATH here) and every image it names is stored. The source is another
    room (served by mboxed's own room server), so nothing leaves loopback."""
    from mboxed.mirror_server import serve_directory
    from tests.helm import model_chart_tgz
    from tests.images.built import image, store

    sb = load_profile("demo").profile.sciencebox
    ref = ChartRef.parse(sb.chart, sb.version)
    source = tmp_path / "source"
    chart_tree(source, ref, model_chart_tgz(sb.version))
    web_assets_tree(source)
    built = {}
    for reference in MODEL_CHART_IMAGES:
        name, _, tag = reference.rpartition(":")
        built[reference] = image(name.split("/", 1)[1], tag, layers=1)
        store(source, reference, built[reference])
    room = tmp_path / "room"
    env = {"PATH": f"{real_helm.path.parent}{os.pathsep}{os.environ['PATH']}"}
    args = ("mirror", str(room), "--tools", "none", "--profile", "demo",
            "--set", "provider.name=existing", "--platform", "linux/amd64")  # fmt: skip
    with serve_directory(source, "127.0.0.1", 0) as served:
        first = mboxed(*args, "--mirror", served.url(), env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        second = mboxed(*args, "--mirror", served.url(), env=env)
    assert second.returncode == 0, second.stderr
    assert f"rendering chart {model_chart_layer(room, ref)} with helm" in first.stdout
    assert f"{len(MODEL_CHART_IMAGES)} image(s)" in first.stdout
    for reference, one in built.items():
        name, _, tag = reference.rpartition(":")
        tree = room / "v2" / name.replace(":", "_")
        assert (tree / "manifests" / tag).read_bytes() == one.manifest, reference
    assert "nothing to download" in second.stdout, second.stdout


def model_chart_layer(room: Path, ref: ChartRef) -> str:
    manifest = json.loads((room / "v2" / ref.repository / "manifests" / ref.tag).read_text())
    return str(manifest["layers"][0]["digest"])


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_serve_refuses_a_port_out_of_range_as_a_usage_error(tmp_path: Path, port: str) -> None:
    result = mboxed("mirror", "serve", "--port", port, str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert "is not in the range 0<=x<=65535" in result.stderr
    assert "Traceback" not in result.stderr
