"""`mboxed bundle FILE --profile P`: one file holding everything `mboxed up
--bundle FILE` needs on a machine with no network. See mboxed/bundle.py."""

from __future__ import annotations

from pathlib import Path

import click

from mboxed.app import App
from mboxed.cli.mirror import room_options
from mboxed.cli.options import deployment_options


@click.command()
@deployment_options(profile=True)
@click.argument("file", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    metavar="OS/ARCH[,…]",
    help="The platform(s) of the machine(s) that will install. Default: this machine's.",
)
@room_options
@click.option(
    "--room",
    "room_dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="The room mirror to fill and bundle from. Default: one in mboxed's cache.",
)
def bundle(
    app: App,
    file: Path,
    platforms: tuple[str, ...],
    tools: str | None,
    images_mode: str,
    extra_images: tuple[str, ...],
    rendered: Path | None,
    room_dir: Path | None,
) -> None:
    """Write one offline bundle FILE for `mboxed up --bundle FILE`."""
    from mboxed.bundle import host_platform, write_bundle
    from mboxed.cli.mirror import build_room
    from mboxed.mirror import parse_platforms

    chosen = parse_platforms(platforms or (host_platform(),))
    room = (room_dir or Path(app.paths.cache_root) / "room").resolve()
    result = build_room(app, room, chosen, tools, False, images_mode, extra_images, rendered)
    files = sorted({*result.added, *result.kept})
    dest = file.resolve()
    click.echo(f"writing {dest}: {len(files)} file(s) from {room}")
    manifest = write_bundle(dest, room, files, profile=app.loaded_profile.name, platforms=chosen)
    size = sum(int(m["size"]) for m in manifest["members"].values())
    click.echo(
        f"bundle {dest}: {len(files)} member(s), {size / 1e6:.1f} MB, for {', '.join(chosen)}"
    )
    click.echo(f"install offline: mboxed up --profile {app.loaded_profile.name} --bundle {dest}")
