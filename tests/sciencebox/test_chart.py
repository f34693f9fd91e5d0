"""The OCI chart pull against a real registry (Debian docker-registry) on
127.0.0.1, with and without real token auth."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mboxed.errors import MboxedError
from mboxed.registry import parse_challenge
from mboxed.sciencebox.chart import ChartCache, ChartRef, pull_chart
from tests.sciencebox.registry import REGISTRY_BIN, Registry, chart_tgz, running_registry

pytestmark = pytest.mark.skipif(REGISTRY_BIN is None, reason="docker-registry not installed")

REPO = "sciencebox/charts/sciencebox"


@pytest.fixture(scope="module")
def open_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("registry"), token_auth=False) as registry:
        yield registry


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("registry-auth"), token_auth=True) as registry:
        yield registry


def test_challenge_parsing_of_harbor_header() -> None:
    header = (
        'Bearer realm="https://registry.cern.ch/service/token",'
        'service="harbor-registry",scope="repository:sciencebox/charts/sciencebox:pull"'
    )
    assert parse_challenge(header) == (
        "bearer",
        {
            "realm": "https://registry.cern.ch/service/token",
            "service": "harbor-registry",
            "scope": "repository:sciencebox/charts/sciencebox:pull",
        },
    )


def test_challenge_parsing_keeps_commas_inside_quotes_and_unquoted_values() -> None:
    scheme, params = parse_challenge(
        'Bearer realm=https://t.example/token, scope="repository:a/b:pull,push", error=x'
    )
    assert scheme == "bearer"
    assert params == {
        "realm": "https://t.example/token",
        "scope": "repository:a/b:pull,push",
        "error": "x",
    }


@pytest.mark.parametrize(
    ("url", "version", "message"),
    [
        ("https://registry.cern.ch/chartrepo/sciencebox", "0.0.8", "not an OCI reference"),
        ("oci://registry.cern.ch", "0.0.8", "oci://REGISTRY/PATH"),
        ("oci://registry.cern.ch/sciencebox/charts/sciencebox:0.0.8", "0.0.8", "REGISTRY/PATH"),
        ("oci://registry.cern.ch/sciencebox/charts/sciencebox", "0.0.8 beta", "not a valid"),
    ],
)
def test_bad_references_are_refused_naming_the_key(url: str, version: str, message: str) -> None:
    with pytest.raises(MboxedError, match=message):
        ChartRef.parse(url, version)


def test_reference_maps_to_registry_urls() -> None:
    ref = ChartRef.parse("oci://registry.cern.ch/sciencebox/charts/sciencebox", "0.0.8")
    assert ref.base_url() == "https://registry.cern.ch"
    assert ref.base_url("http://mirror.lan:5000/") == "http://mirror.lan:5000"
    assert ChartRef.parse("oci://127.0.0.1:5000/x/y", "1.0.0").base_url() == "http://127.0.0.1:5000"
    assert ChartRef.parse("oci://r.example/x", "1.0.0+build").tag == "1.0.0_build"


def test_pull_resolves_downloads_verifies_and_caches(
    open_registry: Registry, tmp_path: Path
) -> None:
    tgz = chart_tgz("sciencebox", "0.0.8")
    pushed = open_registry.push_chart(REPO, "0.0.8", tgz)
    ref = ChartRef.parse("oci://registry.cern.ch/" + REPO, "0.0.8")

    pulled = pull_chart(ref, tmp_path / "charts", mirror=open_registry.url)

    assert pulled.digest == pushed["layer_digest"]
    assert pulled.path.read_bytes() == tgz
    assert pulled.path == tmp_path / "charts" / "sha256" / f"{hashlib.sha256(tgz).hexdigest()}.tgz"
    assert (pulled.name, pulled.version, pulled.from_cache) == ("sciencebox", "0.0.8", False)
    assert pulled.manifest_digest.startswith("sha256:")
    index = json.loads((tmp_path / "charts" / "index.json").read_text())
    assert index["registry.cern.ch/sciencebox/charts/sciencebox:0.0.8"]["digest"] == pulled.digest


def test_second_pull_is_served_from_cache_without_network(
    open_registry: Registry, tmp_path: Path
) -> None:
    open_registry.push_chart("cache/demo", "1.2.3", chart_tgz("demo", "1.2.3"))
    ref = ChartRef.parse("oci://registry.cern.ch/cache/demo", "1.2.3")
    first = pull_chart(ref, tmp_path, mirror=open_registry.url)
    # nothing listens on port 9 of loopback: any request would fail
    again = pull_chart(ref, tmp_path, mirror="http://127.0.0.1:9")
    assert again.from_cache and again.digest == first.digest and again.path == first.path


def test_a_corrupted_cache_file_is_not_trusted(open_registry: Registry, tmp_path: Path) -> None:
    open_registry.push_chart("cache/corrupt", "1.0.0", chart_tgz("corrupt", "1.0.0"))
    ref = ChartRef.parse("oci://registry.cern.ch/cache/corrupt", "1.0.0")
    first = pull_chart(ref, tmp_path, mirror=open_registry.url)
    first.path.write_bytes(b"truncated")
    assert ChartCache(tmp_path).lookup(ref) is None
    again = pull_chart(ref, tmp_path, mirror=open_registry.url)
    assert not again.from_cache and again.path.read_bytes() == chart_tgz("corrupt", "1.0.0")


def test_a_blob_whose_bytes_do_not_match_its_digest_is_refused(
    open_registry: Registry, tmp_path: Path
) -> None:
    tgz = chart_tgz("tampered", "2.0.0")
    pushed = open_registry.push_chart("evil/tampered", "2.0.0", tgz)
    # corrupt the blob in the registry's own storage: it serves the bytes as they are
    open_registry.blob_file(pushed["layer_digest"]).write_bytes(chart_tgz("tampered", "6.6.6"))
    ref = ChartRef.parse("oci://registry.cern.ch/evil/tampered", "2.0.0")
    with pytest.raises(MboxedError, match="refused") as caught:
        pull_chart(ref, tmp_path, mirror=open_registry.url)
    assert pushed["layer_digest"].partition(":")[2] in caught.value.message
    assert not list(tmp_path.rglob("*.tgz")), "nothing may be cached"
    assert ChartCache(tmp_path).lookup(ref) is None


def test_an_artifact_without_a_chart_layer_is_refused(
    open_registry: Registry, tmp_path: Path
) -> None:
    open_registry.push_chart(
        "not/achart", "1.0.0", b"not a chart", layer_type="application/vnd.oci.image.layer.v1.tar"
    )
    ref = ChartRef.parse("oci://registry.cern.ch/not/achart", "1.0.0")
    with pytest.raises(MboxedError, match="not a Helm chart"):
        pull_chart(ref, tmp_path, mirror=open_registry.url)


def test_a_missing_version_says_so(open_registry: Registry, tmp_path: Path) -> None:
    open_registry.push_chart("some/chart", "1.0.0", chart_tgz("chart", "1.0.0"))
    ref = ChartRef.parse("oci://registry.cern.ch/some/chart", "9.9.9")
    with pytest.raises(MboxedError, match=r"has no version 9\.9\.9") as caught:
        pull_chart(ref, tmp_path, mirror=open_registry.url)
    assert "sciencebox.version" in caught.value.hint


def test_a_chart_whose_metadata_disagrees_with_the_tag_is_refused(
    open_registry: Registry, tmp_path: Path
) -> None:
    open_registry.push_chart("lying/chart", "1.0.0", chart_tgz("chart", "0.9.0"))
    ref = ChartRef.parse("oci://registry.cern.ch/lying/chart", "1.0.0")
    with pytest.raises(MboxedError, match=r"says version 0\.9\.0"):
        pull_chart(ref, tmp_path, mirror=open_registry.url)


def test_anonymous_bearer_token_flow_against_registry_token_auth(
    token_registry: Registry, tmp_path: Path
) -> None:
    tgz = chart_tgz("sciencebox", "0.0.8")
    token_registry.push_chart(REPO, "0.0.8", tgz)
    assert token_registry.token is not None
    token_registry.token.requests.clear()
    ref = ChartRef.parse("oci://registry.cern.ch/" + REPO, "0.0.8")

    pulled = pull_chart(ref, tmp_path, mirror=token_registry.url)

    assert pulled.path.read_bytes() == tgz
    # the registry's own challenge named service and scope; we asked for exactly that
    assert token_registry.token.requests == [
        {"service": ["mboxed-test-registry"], "scope": [f"repository:{REPO}:pull"]}
    ]


def test_a_token_without_pull_rights_is_an_error_not_a_loop(
    token_registry: Registry, tmp_path: Path
) -> None:
    token_registry.push_chart("private/chart", "1.0.0", chart_tgz("chart", "1.0.0"))
    assert token_registry.token is not None
    token_registry.token.grant = ()
    try:
        ref = ChartRef.parse("oci://registry.cern.ch/private/chart", "1.0.0")
        with pytest.raises(MboxedError, match="HTTP 401"):
            pull_chart(ref, tmp_path, mirror=token_registry.url)
    finally:
        token_registry.token.grant = ("pull", "push")
