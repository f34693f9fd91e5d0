"""`mboxed mirror DIR`: fill DIR with everything a room of laptops downloads
(pinned tools for each platform, the profile's chart as OCI paths, the kind
ingress manifest or minikube's preload, every image of the profile); `mboxed mirror serve DIR`
serves it as one endpoint (files and a read-only registry) for the laptops'
`--mirror URL`. See mboxed/mirror.py, mboxed/images/mirror.py and
mboxed/mirror_server.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from mboxed.app import App
from mboxed.cli.options import deployment_options

SERVE = "serve"


F = TypeVar("F", bound=Callable[..., Any])


def room_options(fn: F) -> F:
    """What `mirror` and `bundle` both take: --tools, --images, --image,
    --rendered, --mirror."""
    for option in reversed(
        (
            click.option(
                "--tools",
                metavar="LIST",
                help="Comma-separated tools to include, or none. "
                "Default: kubectl,helm,minikube,kind.",
            ),
            click.option(
                "--images",
                "images_mode",
                type=click.Choice(["profile", "none"]),
                default="profile",
                show_default=True,
                help="The profile's images (profile), or only those of --image (none).",
            ),
            click.option(
                "--image", "extra_images", multiple=True, metavar="REF", help="Also this image."
            ),
            click.option(
                "--rendered",
                type=click.Path(dir_okay=False, exists=True, path_type=Path),
                metavar="FILE",
                help="Read the chart's images from these rendered manifests "
                "(`helm template` output) instead of rendering the chart with helm.",
            ),
            click.option(
                "--mirror",
                metavar="URL",
                help="Copy from this room mirror instead of upstream. Also MBOXED_MIRROR.",
            ),
        )
    ):
        fn = option(fn)
    return fn


class MirrorGroup(click.Group):
    """`mboxed mirror DIR` builds, `mboxed mirror serve DIR` serves: the build
    is the default subcommand, so that its old form keeps working."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in (SERVE, "build", "--help", "-h"):
            args = ["build", *args]
        return super().parse_args(ctx, args)


@click.group(cls=MirrorGroup)
def mirror() -> None:
    """Build a classroom mirror in DIR (`mboxed mirror DIR`), or serve one
    (`mboxed mirror serve DIR`) for laptops' `mboxed up --mirror URL`."""


@mirror.command("build")
@deployment_options(profile=True)
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    metavar="OS/ARCH[,…]",
    help="Platforms the laptops run (repeatable or comma-separated). "
    "Default: linux/amd64, linux/arm64, darwin/amd64, darwin/arm64. "
    "Images are stored for the matching linux architectures.",
)
@room_options
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Also what other providers need (the kind ingress manifest, minikube's preload), "
    "whatever the profile.",
)
def build(
    app: App,
    directory: Path,
    platforms: tuple[str, ...],
    tools: str | None,
    everything: bool,
    images_mode: str,
    extra_images: tuple[str, ...],
    rendered: Path | None,
) -> None:
    """Build a classroom mirror in DIR for laptops' `mboxed up --mirror URL`."""
    from mboxed.mirror import parse_platforms

    root = directory.resolve()
    result = build_room(
        app, root, parse_platforms(platforms), tools, everything, images_mode,
        extra_images, rendered,
    )  # fmt: skip
    size = f"{result.added_bytes / 1e6:.1f} MB"
    if result.added:
        click.echo(f"{len(result.added)} file(s) added ({size}), {len(result.kept)} kept")
    else:
        click.echo(f"nothing to download: all {len(result.kept)} file(s) already here, verified")
    click.echo(f"serve it:   mboxed mirror serve {root} --port 8080")
    click.echo("on laptops: mboxed up --mirror http://<this machine>:8080   (see README.txt)")


def build_room(
    app: App,
    root: Path,
    chosen_platforms: list[str],
    tools: str | None,
    everything: bool,
    images_mode: str,
    extra_images: tuple[str, ...],
    rendered: Path | None,
) -> Any:
    """Fill the room mirror `root` for the app's profile; the MirrorResult
    lists every file it holds for it (added and kept)."""
    from mboxed.images.mirror import ImageMirror, mirror_images, profile_wanted
    from mboxed.images.oci import node_platforms
    from mboxed.mirror import MirrorBuilder, build_mirror, parse_tools
    from mboxed.sciencebox.chart import ChartRef
    from mboxed.sciencebox.chart_source import is_local

    chosen_tools = parse_tools(tools)
    loaded = app.loaded_profile
    profile = loaded.profile
    local = is_local(profile.sciencebox.chart)  # a local chart travels by itself
    ref = None if local else ChartRef.parse(profile.sciencebox.chart, profile.sciencebox.version)
    source = app.options.mirror  # --mirror, else MBOXED_MIRROR (options.py)
    echo = lambda line: click.echo(f"  {line}")  # noqa: E731
    builder = MirrorBuilder(
        root, Path(app.paths.cache_root), tool_source=source, chart_source=source, progress=echo
    )
    click.echo(
        f"mboxed mirror: {', '.join(chosen_tools) or 'no tools'} for "
        f"{', '.join(chosen_platforms)}; "
        f"chart {f'{ref.url}:{ref.tag}' if ref else 'local (not mirrored)'}; into {root}"
    )
    result = build_mirror(
        builder,
        platforms=chosen_platforms,
        tools=chosen_tools,
        chart=ref,
        ingress=everything or profile.provider.name == "kind",
        web_assets=everything or bool(profile.sciencebox.components.cernbox),
        # minikube's preload for the containerd runtime a room uses
        # (mboxed.providers.minikube_preload): `start` offline needs it.
        preload=profile.provider.kubernetes_version
        if everything or profile.provider.name == "minikube"
        else None,
    )
    wanted = []
    if images_mode == "profile" or extra_images:
        manifests = None
        if images_mode == "profile":
            # --rendered overrides; else the chart just stored is rendered here
            manifests = rendered.read_text() if rendered else render_profile(app, builder, ref)
        wanted = profile_wanted(
            loaded.name,
            profile.provider.name if images_mode == "profile" else "",
            manifests,
            extra_images,
            base_images(profile) if images_mode == "profile" else (),
        )
    click.echo(f"  {len(wanted)} image(s)")
    images = ImageMirror(
        root, node_platforms(chosen_platforms), source=source, progress=echo, result=result
    )
    mirror_images(images, wanted)
    for warning in images.warnings:
        click.echo(f"warning: {warning}", err=True)
    return result


def render_profile(app: App, builder: Any, ref: Any) -> str:
    """The profile's chart rendered as `up` installs it (mboxed.images.rendered):
    the chart just stored in the room (or the local chart), with the pinned
    helm from the downloads cache, else the helm step's, else helm on PATH."""
    from mboxed.bundle import host_platform
    from mboxed.errors import MboxedError
    from mboxed.images.rendered import render_chart
    from mboxed.sciencebox.chart_source import available_chart

    ctx = app.context()
    sb = ctx.profile.sciencebox
    if ref is not None:
        chart = str(builder.chart_archive(ref))
    else:
        local = available_chart(sb.chart, sb.version, ctx.paths.cache_root)
        chart = str((local or {}).get("path") or sb.chart)
    cached = builder.cached_helm(host_platform())
    helm = str(cached or ctx.outputs("helm").get("path") or "helm")
    if ctx.shell.which(helm) is None:
        raise MboxedError(
            "no helm to render the chart with: the profile's images are read from "
            "`helm template` output",
            hint="include helm in --tools (the default), put helm on PATH, or give "
            "the rendered manifests with --rendered FILE",
        )
    click.echo(f"  rendering chart {Path(chart).name} with {helm} to list its images")
    return str(render_chart(ctx, chart, helm))


@mirror.command(SERVE)
@click.argument(
    "directory", metavar="DIR", type=click.Path(file_okay=False, exists=True, path_type=Path)
)
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on.",
)
@click.option(
    "--bind",
    default="0.0.0.0",
    show_default=True,
    metavar="ADDRESS",
    help="Address to listen on (0.0.0.0: every interface of this machine).",
)
@click.option("--quiet", "-q", is_flag=True, help="Do not print each request.")
def serve(directory: Path, port: int, bind: str, quiet: bool) -> None:
    """Serve DIR (read-only) as the room's registry and file mirror."""
    from mboxed.mirror_server import serve_directory

    def log(line: str) -> None:
        click.echo(line)

    room = serve_directory(directory.resolve(), bind, port, None if quiet else log)
    shown = "<this machine>" if bind in ("0.0.0.0", "::") else bind
    click.echo(f"serving {directory.resolve()} on {bind}:{room.port} (read-only); Ctrl-C stops")
    click.echo(f"on laptops: mboxed up --mirror http://{shown}:{room.port}")
    try:
        room.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        room.httpd.server_close()
        _summary(room.stats.bytes_by_client)


def base_images(profile: Any) -> list[str]:
    """The provider's own image: what its node container runs."""
    if profile.provider.name == "kind":
        from mboxed.providers.kind_config import node_image

        return [node_image(profile.provider.kubernetes_version)]
    if profile.provider.name == "minikube":
        from mboxed.providers.minikube import KICBASE_IMAGE

        return [KICBASE_IMAGE]
    return []


def _summary(by_client: dict[str, Any]) -> None:
    for client, sent in sorted(by_client.items()):
        click.echo(f"{client}: {sent / 1e6:.1f} MB served")
