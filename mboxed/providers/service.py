"""The cluster service the cluster step and the CLI (`status`, `stop`) share:
the provider of a deployment, built with everything it needs from the
engine's context, and the clusters the journal says mboxed created.

The only module that imports the provider modules: they import the shared
types from the package, never this factory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mboxed.errors import MboxedError
from mboxed.providers import PROVIDERS, ClusterProvider, ClusterSpec
from mboxed.providers.existing import ExistingProvider
from mboxed.providers.kind import KindProvider
from mboxed.providers.minikube import MinikubeProvider
from mboxed.providers.room_nodes import serves_images

if TYPE_CHECKING:
    from mboxed.contract import Context
    from mboxed.journal import JournalEntry

# The journal entry the cluster step writes before it creates a cluster.
CREATED = "cluster_created"


def provider_for(
    spec: ClusterSpec,
    shell: Any,
    *,
    tools: Mapping[str, Mapping[str, Any]],
    cache_dir: Path,
    config_dir: Path,
    mirror: str | None = None,
    host_ports: tuple[int, int] | None = None,
    allow_root: bool = False,
) -> ClusterProvider:
    """The provider `spec` names. `tools` are the outputs of the tool steps
    ({"minikube": {"path": ...}}), so the pinned binary is used; `host_ports`
    are those the ingress was published on when the cluster was created.
    `mirror` (--mirror, or the room `up --bundle` serves), when it serves
    images, is also the room the nodes pull images through."""
    room = mirror if mirror and spec.provider != "existing" and serves_images(mirror) else None
    if spec.provider == "minikube":
        return MinikubeProvider(
            spec,
            shell,
            binary=_tool(tools, "minikube"),
            allow_root=allow_root,
            host_ports=host_ports,
            room=room,
        )
    if spec.provider == "kind":
        return KindProvider(
            spec,
            shell,
            binary=_tool(tools, "kind"),
            cache_dir=cache_dir,
            config_dir=config_dir,
            mirror=mirror,
            host_ports=host_ports,
            room=room,
        )
    if spec.provider == "existing":
        return ExistingProvider(spec, shell)
    raise MboxedError(
        f"provider.name {spec.provider!r} is not a cluster provider",
        hint="use one of: " + ", ".join(PROVIDERS),
    )


def make_provider(ctx: Context, *, allow_root: bool = False) -> ClusterProvider:
    """The provider of the deployment's profile. `allow_root`: the user
    agreed that minikube may run the docker driver as root (--force)."""
    spec = ClusterSpec.from_profile(ctx.profile, ctx.deployment)
    return _provider(ctx, spec, allow_root=allow_root)


def journaled_provider(ctx: Context, created: Mapping[str, Any]) -> ClusterProvider:
    """The provider of a cluster a `cluster_created` journal entry names (the
    profile may have changed since)."""
    spec = ClusterSpec(provider=str(created["provider"]), name=str(created["name"]))
    if spec.provider not in ("minikube", "kind"):
        raise MboxedError(
            f"journal names a cluster of provider {spec.provider!r}; mboxed never creates those"
        )
    return _provider(ctx, spec)


def published_ports(cluster: Mapping[str, Any]) -> tuple[int, int] | None:
    """The host ports (http, https) the cluster step's outputs recorded."""
    http, https = cluster.get("host_http_port"), cluster.get("host_https_port")
    return (int(http), int(https)) if http and https else None


def owned_clusters(journal: Sequence[JournalEntry]) -> list[Mapping[str, Any]]:
    """The clusters mboxed created, as their journal entries name them."""
    return [e.data for e in journal if e.kind == CREATED]


def _provider(ctx: Context, spec: ClusterSpec, *, allow_root: bool = False) -> ClusterProvider:
    return provider_for(
        spec,
        ctx.shell,
        tools={name: ctx.outputs(name) for name in ("minikube", "kind")},
        cache_dir=Path(ctx.paths.cache_root),
        config_dir=ctx.paths.deployment_dir(ctx.deployment),
        mirror=ctx.options.mirror,
        host_ports=published_ports(ctx.outputs("cluster")),
        allow_root=allow_root,
    )


def _tool(tools: Mapping[str, Mapping[str, Any]], name: str) -> str:
    path = (tools.get(name) or {}).get("path")
    return str(path) if path else name
