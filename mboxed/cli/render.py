"""`mboxed render`: the manifests `up` would apply, from real `helm template`.

The same values (cli/values.py `preview`: stored state, what is missing made
in memory and not written) and the same post-renderer as the `sciencebox`
step, rendered for the profile's `provider.kubernetes_version`; no cluster
is needed. The chart is the local one (`sciencebox.chart` a path) or the
one the `chart` step cached: render does not pull (`mboxed up --only chart`
does). Secrets are masked unless --show-secrets.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from mboxed.app import App
from mboxed.cli.options import deployment_options
from mboxed.cli.values import header, preview
from mboxed.errors import MboxedError


@click.command()
@deployment_options()
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the manifests to FILE (0600) instead of printing them.",
)
@click.option("--show-secrets", is_flag=True, help="Keep secrets instead of ********.")
def render(app: App, output: Path | None, show_secrets: bool) -> None:
    """Render the manifests the install would apply (helm template)."""
    from mboxed.sciencebox import render as sb_render
    from mboxed.sciencebox.chart_source import available_chart
    from mboxed.sciencebox.helm import Helm
    from mboxed.sciencebox.manifests import documents
    from mboxed.sciencebox.release import secret_strings
    from mboxed.sciencebox.values_text import MANIFEST_MASK, mask_manifests

    ctx, shown = preview(app, "render")
    sb = ctx.profile.sciencebox
    chart = available_chart(sb.chart, sb.version, ctx.paths.cache_root)
    if chart is None:
        raise MboxedError(
            f"the chart {sb.chart}:{sb.version} is not in the cache yet",
            hint="run `mboxed up --only chart` to pull it (or point sciencebox.chart "
            "at a local chart directory or .tgz)",
        )
    secrets = secret_strings(shown.secrets, ctx.outputs("users").get("users") or [])
    ctx.shell.add_secret(*secrets)
    binary = str(ctx.outputs("helm").get("path") or "helm")
    if ctx.shell.which(binary) is None:
        raise MboxedError(
            f"{binary}: not found; rendering runs helm",
            hint="run `mboxed up --only helm` (mboxed installs its pinned helm), "
            "or put helm on PATH",
        )
    helm = Helm(ctx.shell, sb.namespace, binary)
    kubernetes = ctx.profile.provider.kubernetes_version
    with tempfile.TemporaryDirectory(prefix="mboxed-render-") as workdir:
        manifests = sb_render.render_manifests(
            helm,
            release=sb.release,
            chart=str(chart["path"]),
            values=shown.values,
            postrender=sb_render.postrender_config(ctx.profile, shown.secrets),
            kubernetes_version=kubernetes,
            workdir=Path(workdir),
        )
    if not show_secrets:
        manifests = mask_manifests(manifests, secrets)
    first = (
        f"# Manifests of the ScienceBox chart {chart['name']} {chart['version']} from "
        f"{chart['path']} (deployment {app.deployment!r}, profile "
        f"{app.loaded_profile.name!r}), helm template for Kubernetes {kubernetes}"
    )
    lines = header(first, shown.notes, show_secrets, mask=MANIFEST_MASK)
    text = "\n".join(lines) + "\n" + manifests
    if output is None:
        click.echo(text, nl=False)
        return
    _write_private(output, text)
    click.echo(f"wrote {output} ({len(documents(manifests))} objects)")


def _write_private(path: Path, text: str) -> None:
    """0600 from the start: with --show-secrets the file holds every secret."""
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(text)
