"""mboxed.pins: the pinned table itself."""

from __future__ import annotations

import re

import pytest

from mboxed.errors import MboxedError
from mboxed.pins import PINNED, PLATFORMS

OFFICIAL_HOSTS = {
    "kubectl": "dl.k8s.io",
    "helm": "get.helm.sh",
    "minikube": "github.com",
    "kind": "github.com",
}


@pytest.mark.parametrize("tool", sorted(PINNED))
def test_every_tool_has_official_https_urls_for_every_platform(tool: str) -> None:
    rel = PINNED[tool]
    for platform in PLATFORMS:
        os_name, arch = platform.split("/")
        for url in (rel.file_url(platform), rel.sum_url(platform)):
            assert url.startswith(f"https://{OFFICIAL_HOSTS[tool]}/")
            assert rel.version in url and os_name in url and arch in url
        pinned = rel.pinned(platform)
        assert pinned is None or re.fullmatch(r"[0-9a-f]{64}", pinned)
    assert len(set(rel.sha256.values())) == len(rel.sha256)  # no copy-paste duplicates


def test_pinned_versions_fit_the_default_cluster() -> None:
    assert PINNED["kubectl"].version.startswith("v1.31.")
    assert tuple(int(x) for x in PINNED["helm"].version[1:].split(".")[:2]) >= (3, 8)
    assert PINNED["minikube"].version == "v1.34.0"
    assert PINNED["kind"].version == "v0.24.0"


def test_unknown_platform_is_a_clear_error() -> None:
    with pytest.raises(MboxedError, match=r"not published for windows/amd64"):
        PINNED["kind"].file_url("windows/amd64")
