"""The pinned tools: for each, one release, where its files are published, and
the sha256 of each platform's file where a published value was found.

Data, read by mboxed.downloads (which verifies every file against these sums
or, where none is pinned, against the checksum file published beside it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mboxed.errors import MboxedError

PLATFORMS = ("linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64")


@dataclass(frozen=True)
class Release:
    """One pinned release of a tool. URL templates take {version}, {os}, {arch}."""

    tool: str
    version: str
    url: str
    checksum_url: str
    sha256: Mapping[str, str] = field(default_factory=dict)
    member: str | None = None  # path of the binary inside a .tar.gz

    def _fill(self, template: str, platform: str) -> str:
        os_name, _, arch = platform.partition("/")
        return template.format(version=self.version, os=os_name, arch=arch)

    def file_url(self, platform: str) -> str:
        self.check_platform(platform)
        return self._fill(self.url, platform)

    def sum_url(self, platform: str) -> str:
        self.check_platform(platform)
        return self._fill(self.checksum_url, platform)

    def archive_member(self, platform: str) -> str | None:
        return self._fill(self.member, platform) if self.member else None

    def pinned(self, platform: str) -> str | None:
        return self.sha256.get(platform)

    def check_platform(self, platform: str) -> None:
        if platform not in PLATFORMS:
            raise MboxedError(
                f"{self.tool} {self.version} is not published for {platform}",
                hint="mboxed supports " + ", ".join(PLATFORMS),
            )


# The pinned versions. kubectl: a v1.31 client for the profile's default
# v1.31 cluster (kubectl works within one minor version of the API server).
# helm: >= 3.8 for OCI charts. minikube v1.34.0: its default Kubernetes is
# v1.31.0. kind v0.24.0: ships the kindest/node:v1.31.0 image.
PINNED: dict[str, Release] = {
    "kubectl": Release(
        tool="kubectl",
        version="v1.31.13",
        url="https://dl.k8s.io/release/{version}/bin/{os}/{arch}/kubectl",
        checksum_url="https://dl.k8s.io/release/{version}/bin/{os}/{arch}/kubectl.sha256",
        # linux sums: kubernetes-sigs/kubespray
        # roles/kubespray_defaults/vars/main/checksums.yml (kubectl_checksums, 1.31.13)
        # at a36912e2c457828ebdee9033c701b8eab9f7651b (kubespray takes them from
        # the published kubectl.sha256 files); the linux/amd64 one also appears,
        # for the same URL, in an independent Go version table.
        # darwin: no published value found here, so the .sha256 file is fetched.
        sha256={
            "linux/amd64": "ce427a4df97b044bf6beaf38be6b3aaafb1b5c782c406958b3c71ebb25a48fe3",
            "linux/arm64": "cfe055bd02650cd5c2687599069630cf4a602f1c99be63986a25b775752620db",
        },
    ),
    "helm": Release(
        tool="helm",
        version="v3.18.4",
        url="https://get.helm.sh/helm-{version}-{os}-{arch}.tar.gz",
        checksum_url="https://get.helm.sh/helm-{version}-{os}-{arch}.tar.gz.sha256sum",
        member="{os}-{arch}/helm",
        # From the v3.18.4 release notes, https://github.com/helm/helm/releases/tag/v3.18.4
        # (which list each .sha256sum value); linux ones also in kubespray's
        # helm_archive_checksums at the commit above.
        sha256={
            "linux/amd64": "f8180838c23d7c7d797b208861fecb591d9ce1690d8704ed1e4cb8e2add966c1",
            "linux/arm64": "c0a45e67eef0c7416a8a8c9e9d5d2d30d70e4f4d3f7bea5de28241fffa8f3b89",
            "darwin/amd64": "860a7238285b44b5dc7b3c4dad6194316885d7015d77c34e23177e0e9554af8f",
            "darwin/arm64": "041849741550b20710d7ad0956e805ebd960b483fe978864f8e7fdd03ca84ec8",
        },
    ),
    "minikube": Release(
        tool="minikube",
        version="v1.34.0",
        url="https://github.com/kubernetes/minikube/releases/download/{version}/minikube-{os}-{arch}",
        checksum_url="https://github.com/kubernetes/minikube/releases/download/{version}/minikube-{os}-{arch}.sha256",
        # kubernetes/minikube deploy/minikube/releases-v2.json, entry v1.34.0
        # (at 296ce4cc2264c74b76e0fb5add7735c38850d25c): minikube's own table
        # of its release binaries' sha256.
        sha256={
            "linux/amd64": "c4a625f9b4a4523e74b745b6aac8b0bf45062472be72cd38a23c91ec04d534c9",
            "linux/arm64": "fbe55f563ac33328320d64c319f635386fe020eedf25cba8ebf3850048deb7ae",
            "darwin/amd64": "0f73648ab726c6d7822444536e7a5d7eb4d8b0c193ecfc17771d4811c4efa5c0",
            "darwin/arm64": "d760e65502017b716dec55c17e2c94c8e7a739d30650ffa698f4f4104a18314c",
        },
    ),
    "kind": Release(
        tool="kind",
        version="v0.24.0",
        url="https://github.com/kubernetes-sigs/kind/releases/download/{version}/kind-{os}-{arch}",
        checksum_url="https://github.com/kubernetes-sigs/kind/releases/download/{version}/kind-{os}-{arch}.sha256sum",
        # The published kind-*.sha256sum values for v0.24.0 as carried by
        # f110/mono build/rules/kind/assets.bzl and cashapp/hermit-packages
        # kind.hcl (both agree; the linux ones also match a third, Nix, pin).
        sha256={
            "linux/amd64": "b89aada5a39d620da3fcd16435b7f28d858927dd53f92cbac77686b0588b600d",
            "linux/arm64": "2968808d916e12d0a25c56d07c9a1c987163f972513fa8a94a2125a69f9c50eb",
            "darwin/amd64": "6cf7ba50b37d3446153bbfb8990f03fb8102778898c84502cdb841710b499ed5",
            "darwin/arm64": "8e34f2edc7efc5c7c160487251848a954cd60ccd52b56a3fc360eaab33543fc0",
        },
    ),
}
