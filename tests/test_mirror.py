"""One `--mirror URL` serves two kinds of requests: the tool downloads
(mboxed.downloads: the upstream path under the mirror's base URL) and the
chart (mboxed.sciencebox.chart: the OCI distribution API, `/v2/...`, under the
same base URL). No single off-the-shelf server does both: a registry answers
only `/v2/`, and a plain file server (the documented `python3 -m http.server`
mirror) has no `/v2/`. A static tree holding the registry's manifest and blobs
at their API paths serves both — shown here against a real docker-registry
and a real HTTP file server on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import requests

from mboxed.downloads import Downloader, DownloadError, Release
from mboxed.errors import MboxedError
from mboxed.profile import load_profile
from mboxed.sciencebox.chart import OCI_MANIFEST, ChartRef, pull_chart
from tests.providers.world import mirror_server
from tests.sciencebox.registry import REGISTRY_BIN, chart_tgz, running_registry

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
