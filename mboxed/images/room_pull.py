"""How a node gets its images from the room mirror, per container engine.
Pure: the texts and references; providers apply them.

containerd (kind nodes): one `certs.d/<registry>/hosts.toml` per upstream
registry (containerd docs/hosts.md), naming the room as a pull+resolve host
before the registry's own server. containerd then asks the room
`/v2/<path>/manifests/<tag>?ns=<registry>` (remotes/docker/resolver.go
addNamespace, containerd 1.6 and later) and verifies every digest itself.
Tags resolve at the room, so a class gets the bits the room holds. The
`server` line keeps the registry as the fallback for an image the room lacks;
with no network that fallback fails, as it should, naming the image.

minikube nodes get the same files: with a room, minikube runs with
`--container-runtime=containerd`, whose config in the kicbase image reads
/etc/containerd/certs.d (minikube v1.34.0 deploy/kicbase/containerd.toml
config_path; pkg/minikube/cruntime/containerd.go containerdMirrorsRoot).
The docker runtime cannot do it: dockerd's `--registry-mirror` applies to
Docker Hub only (moby registry/config.go), and pulling `<room>/<ns>/<path>`
then `docker tag` cannot recreate a digest-pinned name (a tag never makes a
RepoDigest), which the ingress images are.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from mboxed.errors import MboxedError
from mboxed.images.reference import Reference
from mboxed.registry import registry_base_url

HOSTS_FILE = "hosts.toml"
CERTS_D = "/etc/containerd/certs.d"


def room_host(room_url: str) -> str:
    """host:port of a room URL (what Docker prefixes references with)."""
    parts = urlsplit(room_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise MboxedError(
            f"--mirror {room_url!r} is not the base URL of a room mirror",
            hint="give http://HOST:PORT, as `mboxed mirror serve` prints it",
        )
    return parts.netloc


def render_hosts_toml(registry: str, room_url: str) -> str:
    """containerd's hosts.toml making the room the first source of `registry`."""
    room_host(room_url)
    server = registry_base_url(registry)
    room = room_url.rstrip("/")
    return (
        f"# written by mboxed: pull {registry} images through the room mirror\n"
        f'server = "{server}"\n'
        "\n"
        f'[host."{room}"]\n'
        '  capabilities = ["pull", "resolve"]\n'
    )


def hosts_files(registries: Iterable[str], room_url: str) -> dict[str, str]:
    """`<registry>/hosts.toml` (relative to certs.d) → its text, one per registry."""
    return {
        f"{registry}/{HOSTS_FILE}": render_hosts_toml(registry, room_url)
        for registry in sorted(set(registries))
    }


def registries_of(references: Iterable[Reference]) -> list[str]:
    return sorted({ref.domain for ref in references})
