"""The chart's manifests rendered exactly as the `sciencebox` step installs
them: the same generated values, the same post-renderer, the cluster's API
versions. `render_manifests(ctx)` for the `images` step (the cached chart,
the helm step's binary); `render_chart` for any chart and helm (`mboxed
mirror` and `mboxed bundle`, which render the chart they just stored).

Images do not depend on secrets, users or the certificate, so the values
are `preview_values` (what the stored state lacks is made up in memory and
never written) and the render works before those steps ran: the `images`
step runs right after the chart is cached, to start pulling early. Nor do
they depend on the hostname: before the cluster step chose one (`auto`),
a placeholder stands in (ROOM_HOSTNAME).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from mboxed.contract import Context
from mboxed.errors import Deferred, MboxedError
from mboxed.hostname import resolve_hostname

# The hostname the room renders with when the profile's is `auto`: a name
# under a reserved TLD (RFC 2606) that no image reference depends on.
ROOM_HOSTNAME = "sciencebox.room.invalid"


def chart_path(ctx: Context) -> str:
    chart = ctx.outputs("chart")
    if not chart.get("path"):
        raise Deferred("chart", "the chart is not cached yet")
    if not Path(str(chart["path"])).exists():
        raise MboxedError(
            f"the cached chart {chart['path']} is gone",
            hint="run `mboxed up --only chart` to pull it again",
        )
    return str(chart["path"])


def render_manifests(ctx: Context) -> str:
    """`helm template` of the cached chart with the deployment's values and
    post-renderer (mboxed/sciencebox/render.py, which `mboxed render` uses
    too): the manifests `helm upgrade --install` would apply."""
    hostname = resolve_hostname(ctx.profile.hostname, ctx.outputs("cluster").get("hostname"))
    helm = str(ctx.outputs("helm").get("path") or "helm")
    return render_chart(ctx, chart_path(ctx), helm, hostname)


def render_chart(ctx: Context, chart: str, helm_binary: str, hostname: str | None = None) -> str:
    """`helm template` of `chart` (a directory or .tgz, whatever its file
    name) with `helm_binary`, the deployment's values and post-renderer.
    `hostname` None: the one the profile or the cluster step gives, else
    ROOM_HOSTNAME."""
    from mboxed.sciencebox import render as sb_render
    from mboxed.sciencebox import secrets as sb_secrets
    from mboxed.sciencebox.helm import Helm
    from mboxed.sciencebox.values import preview_values

    profile = ctx.profile
    sb = profile.sciencebox
    if hostname is None:
        try:
            hostname = resolve_hostname(profile.hostname, ctx.outputs("cluster").get("hostname"))
        except Deferred:
            hostname = ROOM_HOSTNAME
    shown = preview_values(
        profile,
        hostname,
        ctx.outputs("secrets"),
        ctx.outputs("users"),
        ctx.outputs("tls"),
        ctx.outputs("web-assets"),
    )
    helm = Helm(ctx.shell, sb.namespace, helm_binary)
    ctx.shell.add_secret(*sb_secrets.secret_values(shown.secrets))
    with tempfile.TemporaryDirectory(prefix="mboxed-render-") as tmp:
        return sb_render.render_manifests(
            helm,
            release=sb.release,
            chart=chart,
            values=shown.values,
            postrender=sb_render.postrender_config(profile, shown.secrets),
            kubernetes_version=str(profile.provider.kubernetes_version),
            workdir=Path(tmp),
        )
