"""Pulls into a node's containerd with its own `ctr`, in the `k8s.io`
namespace the kubelet's CRI reads: kind nodes ship ctr, and kind itself
loads images that way (kubernetes-sigs/kind pkg/cluster/nodeutils/util.go
LoadImageArchive: `ctr --namespace=k8s.io images import …` run in the node
container). A pull by reference, not an archive: no `docker save` of a
multi-GB image through the host.

`ctr images ls` (containerd cmd/ctr/commands/images/images.go, 1.6/1.7)
prints a table: REF, TYPE, DIGEST, SIZE (a number and a unit: "2.6 MiB"),
PLATFORMS, LABELS. ctr shows no byte totals before the end of a pull, so
the progress of a ctr pull is the image count.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from mboxed.images.pull import (
    NodeImage,
    NodeUnreachable,
    Progress,
    Pulled,
    normalised,
    pull_failed,
)
from mboxed.images.reference import Reference, parse
from mboxed.shell import CommandError

_UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}
_ROW = re.compile(
    r"^(?P<ref>\S+)\s+(?P<type>\S+)\s+(?P<digest>sha256:[0-9a-f]{64})\s+"
    r"(?P<size>[0-9.]+)\s*(?P<unit>[KMGT]?i?B)\b"
)


def kind_node_ctr(cluster: str) -> list[str]:
    """ctr inside the control-plane node container of a kind cluster
    (kind names it `<cluster>-control-plane`)."""
    return ["docker", "exec", f"{cluster}-control-plane", "ctr", "--namespace=k8s.io"]


def parse_images(stdout: str) -> list[NodeImage]:
    """`ctr images ls` -> one NodeImage per row, tag and digest normalised."""
    found = []
    for line in stdout.splitlines()[1:]:
        match = _ROW.match(line.strip())
        if not match:
            continue
        name = normalised(match["ref"])
        if not name:
            continue
        ref = parse(name)
        digests = {f"{ref.repository}@{match['digest']}"}
        tags = {ref.tagged} if ref.tag else set()
        size = int(float(match["size"]) * _UNITS.get(match["unit"], 1))
        found.append(NodeImage(match["digest"], frozenset(tags), frozenset(digests), size))
    return found


def minikube_node_ctr(binary: str, profile: str) -> list[str]:
    """ctr in minikube's node (containerd runtime), through `minikube ssh`
    (cmd/minikube/cmd/ssh.go, v1.34.0: the words after `--` run in the
    node as user docker, hence sudo)."""
    return [binary, "ssh", "-p", profile, "--", "sudo", "ctr", "--namespace=k8s.io"]


class CtrPuller:
    """`hosts_dir`: pull through the registry hosts configured there (`ctr
    images pull --hosts-dir`, containerd cmd/ctr/commands/resolver.go: ctr
    does not read the CRI's config_path itself) — the room's hosts.toml in
    the node (mboxed.providers.room_nodes). `via`: where pulls come from,
    as `mboxed images` shows it."""

    def __init__(
        self,
        shell: Any,
        ctr: Sequence[str],
        *,
        plain_http: bool = False,
        hosts_dir: str | None = None,
        via: str = "upstream",
    ) -> None:
        self.shell = shell
        self.ctr = list(ctr)
        self.plain_http = plain_http
        self.hosts_dir = hosts_dir
        self.via = via

    def _run(self, *args: str, timeout: float = 120) -> str:
        return str(self.shell.run([*self.ctr, *args], timeout=timeout).stdout)

    def images(self) -> list[NodeImage]:
        try:
            return parse_images(self._run("images", "ls"))
        except CommandError as exc:
            raise NodeUnreachable(
                f"the node's containerd: {exc.message.splitlines()[-1]}"
            ) from None

    def pull(self, reference: Reference, progress: Progress) -> Pulled:
        name = reference.pinned if reference.digest else reference.tagged
        flags = ["--plain-http"] if self.plain_http else []
        if self.hosts_dir:
            flags += ["--hosts-dir", self.hosts_dir]
        progress(0, 0)
        try:
            self._run("images", "pull", *flags, name, timeout=3600)
        except CommandError as exc:
            answer = (exc.stderr or exc.stdout or str(exc)).strip().splitlines()
            raise pull_failed(str(reference), answer[-1] if answer else str(exc)) from None
        pulled = next((i for i in self.images() if name in i.tags | i.digests), None)
        digest = pulled.id if pulled else reference.digest
        size = pulled.size if pulled else 0
        progress(size, size)
        return Pulled(digest, size)

    def tag(self, pinned: Reference, tag: Reference) -> None:
        self._run("images", "tag", "--force", pinned.pinned, tag.tagged)
