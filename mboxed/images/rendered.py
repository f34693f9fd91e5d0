"""The chart's manifests rendered exactly as the `sciencebox` step installs
them: the same generated values, the same post-renderer, the cluster's API
versions. One function, `render_manifests`, so that there is one place to
repoint when the project has a shared renderer.

Images do not depend on secrets, users or the certificate, so the values
are `preview_values` (what the stored state lacks is made up in memory and
never written) and the render works before those steps ran: the `images`
step runs right after the chart is cached, to start pulling early.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from mboxed.contract import Context
from mboxed.errors import Deferred, MboxedError
from mboxed.hostname import resolve_hostname


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
    from mboxed.sciencebox import render as sb_render
    from mboxed.sciencebox import secrets as sb_secrets
    from mboxed.sciencebox.helm import Helm
    from mboxed.sciencebox.values import preview_values

    profile = ctx.profile
    sb = profile.sciencebox
    chart = chart_path(ctx)
    hostname = resolve_hostname(profile.hostname, ctx.outputs("cluster").get("hostname"))
    shown = preview_values(
        profile, hostname, ctx.outputs("secrets"), ctx.outputs("users"), ctx.outputs("tls")
    )
    helm = Helm(ctx.shell, sb.namespace, str(ctx.outputs("helm").get("path") or "helm"))
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
