"""Step `web-assets`: cernbox-web's web assets in the cluster, so that its
init container reads them there instead of downloading them from github.com
at every start (mboxed/sciencebox/web_assets.py says how and why).

facts: both files in the download cache (fetched when missing: from the
room or bundle with `--mirror`/`--bundle`, else from github.com, the sum
recorded at the first download), cut into pieces, and the ConfigMaps of
mboxed's in the release's namespace. plan: write the pieces that are
missing or differ, delete ConfigMaps no piece needs. apply: server-side
apply of each ConfigMap, each journaled; `down` deletes them. Outputs: per
file its sha256 and its ConfigMaps, which the `sciencebox` step's values
mount into the init container.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mboxed import kube
from mboxed.contract import Action, BaseStep, Context, Plan
from mboxed.errors import Deferred
from mboxed.journal import JournalEntry, revert
from mboxed.sciencebox import web_assets as wa

CREATED = "web_asset_configmap"
Fetch = Callable[[Context, wa.WebAsset, bool], "Path | None"]


def fetch_cached(ctx: Context, asset: wa.WebAsset, download: bool) -> Path | None:
    """The verified file from the cache; when it is not there, None, or with
    `download` fetched once (from the room with `--mirror` or `--bundle`:
    its base URL is ctx.options.mirror; else from github.com)."""
    from mboxed.downloads import Downloader

    downloader = Downloader(
        Path(ctx.paths.cache_root), mirror=ctx.options.mirror, progress=ctx.progress
    )
    if not download:
        return downloader.cached_recorded(asset.url)
    return downloader.fetch_recorded(asset.url, label=f"cernbox-web {asset.name}")


@dataclass
class WebAssetsFacts:
    enabled: bool
    stored: list[wa.Stored]
    missing: list[wa.WebAsset] = field(default_factory=list)
    changes: wa.Changes | None = None


class WebAssetsStep(BaseStep):
    name = "web-assets"
    description = (
        "cernbox-web's web assets stored in the cluster (ConfigMaps), not fetched at start"
    )

    def __init__(self, fetch: Fetch = fetch_cached) -> None:
        self._fetch = fetch

    def inputs(self, ctx: Context) -> Mapping[str, Any]:
        return {
            "namespace": ctx.profile.sciencebox.namespace,
            "cernbox": bool(ctx.profile.sciencebox.components.cernbox),
            "assets": [a.url for a in wa.ASSETS],
        }

    def _client(self, ctx: Context) -> Any:
        cluster = ctx.outputs("cluster")
        if not cluster:
            raise Deferred("cluster")
        return kube.api_client(cluster.get("context"), cluster.get("kubeconfig"))

    def facts(self, ctx: Context, download: bool = False) -> WebAssetsFacts:
        if not ctx.profile.sciencebox.components.cernbox:
            return WebAssetsFacts(False, [])
        client = self._client(ctx)
        stored, missing = [], []
        for asset in wa.ASSETS:
            path = self._fetch(ctx, asset, download)
            if path is None:
                missing.append(asset)
            else:
                stored.append(wa.cut(asset, path))
        if missing:
            return WebAssetsFacts(True, stored, missing)
        namespace = ctx.profile.sciencebox.namespace
        # the pieces' sums are in their annotations: their data is not read
        existing = kube.list_objects(client, "ConfigMap", namespace, metadata=True)
        return WebAssetsFacts(True, stored, [], wa.changes(stored, existing))

    def plan(self, ctx: Context, facts: WebAssetsFacts) -> Plan:
        if not facts.enabled:
            return Plan.nothing("the cernbox component is off: no web assets")
        if facts.missing:
            where = f"the room {ctx.options.mirror}" if ctx.options.mirror else "github.com"
            names = ", ".join(a.filename for a in facts.missing)
            return Plan(
                [
                    Action(f"download {names} from {where} into the cache", kind="download"),
                    Action(f"store cernbox-web's web assets in ConfigMaps {wa.PREFIX}*"),
                ]
            )
        change = facts.changes
        assert change is not None
        if not change.write and not change.delete:
            return Plan.nothing(f"all {change.kept} ConfigMap(s) of the web assets in place")
        actions = []
        if change.write:
            size = sum(p.size for p in change.write)
            actions.append(
                Action(
                    f"write {len(change.write)} ConfigMap(s) {wa.PREFIX}* "
                    f"({size / 1e6:.1f} MB of cernbox-web's web assets)",
                    kind="write",
                    detail={"names": [p.name for p in change.write]},
                )
            )
        if change.delete:
            actions.append(
                Action(
                    f"delete {len(change.delete)} ConfigMap(s) no longer needed",
                    kind="delete",
                    detail={"names": list(change.delete)},
                )
            )
        return Plan(actions)

    def apply(self, ctx: Context, plan: Plan) -> Mapping[str, Any] | None:
        facts = self.facts(ctx, download=True)  # the files and the pieces to write
        client = self._client(ctx)
        namespace = ctx.profile.sciencebox.namespace
        cluster = ctx.outputs("cluster")
        change = facts.changes
        if change is None:
            return None
        if change.write:
            _ensure_namespace(client, namespace)
        journaled = {e.data.get("name") for e in ctx.journal() if e.kind == CREATED}
        by_name = {p.name: (s, p) for s, p in wa.all_pieces(facts.stored)}
        for piece in change.write:
            stored, _ = by_name[piece.name]
            kube.apply_manifests(client, [wa.configmap(stored, piece, namespace)])
            ctx.progress(f"configmap/{piece.name}")
            if piece.name not in journaled:
                ctx.record(
                    CREATED,
                    name=piece.name,
                    namespace=namespace,
                    context=cluster.get("context"),
                    kubeconfig=cluster.get("kubeconfig"),
                )
        for name in change.delete:
            kube.delete_object(client, "ConfigMap", namespace, name)
            ctx.progress(f"deleted configmap/{name}")
        return None

    def outputs(self, ctx: Context, facts: WebAssetsFacts) -> Mapping[str, Any]:
        if not facts.enabled or facts.missing:
            return {}
        return {
            "namespace": ctx.profile.sciencebox.namespace,
            "assets": [s.to_output() for s in facts.stored],
        }

    def undo(self, ctx: Context, journal: Sequence[JournalEntry]) -> None:
        created = [e for e in journal if e.kind == CREATED]
        if created and not ctx.outputs("cluster").get("created_by_mboxed"):
            # a cluster mboxed created goes next, and the ConfigMaps with it
            first = created[0].data
            client = kube.api_client(first.get("context"), first.get("kubeconfig"))
            for entry in reversed(created):
                name = str(entry.data["name"])
                kube.delete_object(client, "ConfigMap", str(entry.data["namespace"]), name)
                ctx.progress(f"deleted configmap/{name}")
        for entry in reversed(journal):
            if entry.kind != CREATED:
                revert(ctx, entry)


def _ensure_namespace(client: Any, namespace: str) -> None:
    """The release's namespace, as `helm upgrade --install --create-namespace`
    would make it a step later (and, like Helm's, left by `down`)."""
    doc = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    kube.apply_manifests(client, [doc])


def make() -> WebAssetsStep:
    return WebAssetsStep()
