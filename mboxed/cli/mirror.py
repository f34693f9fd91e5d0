"""`mboxed mirror DIR`: fill DIR with everything a room of laptops downloads
(pinned tools for each platform, the profile's chart as static OCI paths, the
kind ingress manifest), for `python3 -m http.server` to serve as their
`--mirror URL`. See mboxed/mirror.py."""

from __future__ import annotations

from pathlib import Path

import click

from mboxed.app import App
from mboxed.cli.options import deployment_options


@click.command()
@deployment_options(profile=True)
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    metavar="OS/ARCH",
    help="A platform the laptops run (repeatable). "
    "Default: linux/amd64, linux/arm64, darwin/amd64, darwin/arm64.",
)
@click.option(
    "--tools",
    metavar="LIST",
    help="Comma-separated tools to include, or none. Default: kubectl,helm,minikube,kind.",
)
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Also what other providers need (the kind ingress manifest), whatever the profile.",
)
@click.option(
    "--mirror",
    metavar="URL",
    help="Copy from this mirror instead of the upstream hosts. Also MBOXED_MIRROR.",
)
def mirror(
    app: App, directory: Path, platforms: tuple[str, ...], tools: str | None, everything: bool
) -> None:
    """Build a classroom mirror in DIR for laptops' `mboxed up --mirror URL`."""
    from mboxed.mirror import MirrorBuilder, build_mirror, parse_platforms, parse_tools
    from mboxed.sciencebox.chart import ChartRef
    from mboxed.sciencebox.chart_source import is_local

    chosen_platforms = parse_platforms(platforms)
    chosen_tools = parse_tools(tools)
    profile = app.loaded_profile.profile
    local = is_local(profile.sciencebox.chart)  # a local chart travels by itself
    ref = None if local else ChartRef.parse(profile.sciencebox.chart, profile.sciencebox.version)
    source = app.options.mirror  # --mirror, else MBOXED_MIRROR (options.py)
    root = directory.resolve()
    builder = MirrorBuilder(
        root,
        Path(app.paths.cache_root),
        tool_source=source,
        chart_source=source,
        progress=lambda line: click.echo(f"  {line}"),
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
    )
    size = f"{result.added_bytes / 1e6:.1f} MB"
    if result.added:
        click.echo(f"{len(result.added)} file(s) added ({size}), {len(result.kept)} kept")
    else:
        click.echo(f"nothing to download: all {len(result.kept)} file(s) already here, verified")
    click.echo(f"serve it:   python3 -m http.server 8080 --directory {root}")
    click.echo("on laptops: mboxed up --mirror http://<this machine>:8080   (see README.txt)")
