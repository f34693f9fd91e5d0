"""`mboxed images`: every image the deployment runs, where, and how it gets
onto the node.

The chart is rendered as the `sciencebox` step installs it (the cached
chart, so after `mboxed up --only chart`); the SWAN user images come from
the spawner's configuration and the ingress images from the provider. For
each image: where it is used, its pull policy, its size once pulled,
whether the node has it (when the cluster is up), and where it comes from
(its registry, or the digest recorded at the first pull). Then what the
running deployment still fetches from the internet, which no image in a
room or bundle provides (mboxed.images.network_needs).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import click

from mboxed.app import App
from mboxed.cli.options import deployment_options
from mboxed.errors import Deferred, MboxedError


def deployment_pins(ctx: Any) -> dict[str, str]:
    """The digests this deployment pulls by: the profile's pins file first,
    then those recorded at its pulls (as the `images` step reads them)."""
    from mboxed.images.wanted import recorded_pins
    from mboxed.tasks import stored

    pins = recorded_pins(ctx.outputs("images"), stored(ctx.state, "images"))
    if ctx.profile.images.pins:
        from mboxed.images.pins_file import read_pins

        pins.update(read_pins(ctx.profile.images.pins))
    return pins


def image_rows(app: App) -> list[dict[str, Any]]:
    from mboxed.images.ingress import ingress_images
    from mboxed.images.inventory import inventory
    from mboxed.images.pull import find, present
    from mboxed.images.rendered import render_manifests
    from mboxed.tasks import stored

    ctx = app.context()
    try:
        rendered = render_manifests(ctx)
    except Deferred as exc:
        raise MboxedError(
            f"the chart cannot be rendered yet: it needs the {exc.after} step first",
            hint=f"run `{ctx.command_line('up')} --only {exc.after}`"
            + ("" if exc.after != "cluster" else ", or give a hostname: --set hostname=FQDN"),
        ) from None
    images = inventory(rendered, ingress_images(ctx.profile.provider.name))
    task = stored(ctx.state, "images")
    pins = deployment_pins(ctx)
    items = task.get("items") or {}
    store = None
    if ctx.outputs("cluster"):
        from mboxed.images.pullers import puller_for

        try:
            puller = puller_for(ctx)
            store = puller.images() if puller is not None else None
        except MboxedError:  # NodeUnreachable among them: the node is then unknown
            store = None
    rows = []
    for img in images:
        pin = pins.get(img.name, "") or img.reference.digest
        item = items.get(img.name) or {}
        on_node = find(store, img.reference) if store is not None else None
        rows.append(
            {
                "image": img.name,
                "uses": [
                    {
                        "kind": u.kind,
                        "name": u.name,
                        "container": u.container,
                        "init": u.init,
                        "pull_policy": u.pull_policy,
                        "origin": u.origin,
                    }
                    for u in img.uses
                ],
                "pull_policy": sorted(img.pull_policies),
                "size": (on_node.size if on_node else 0) or int(item.get("size") or 0) or None,
                "on_node": (present(store, img.reference, pin) if store is not None else None),
                "registry": img.reference.domain,
                "digest": pin or None,
                "source": _source(img.reference.domain, pin, item.get("via")),
                "pull": item.get("status"),
            }
        )
    return rows


def _source(registry: str, pin: str, via: Any) -> str:
    """Where the node's copy came from: `<registry> @ <digest>`, and the room
    (or bundle) it was pulled through, as the pull recorded it."""
    source = f"{registry} @ {pin}" if pin else registry
    return f"{source} via {via}" if via and via != "upstream" else source


def _size(value: int | None) -> str:
    from mboxed.tasks import gb

    return gb(value) if value else "?"


@click.command()
@deployment_options()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--pins",
    "pins_to",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the digests this deployment's images were pulled by to FILE, for a "
    "class's profiles to name (images.pins: FILE).",
)
def images(app: App, as_json: bool, pins_to: str | None) -> None:
    """List every image of the deployment: where it is used, size, on the node, source."""
    if pins_to is not None:
        write_pins(app, pins_to)
        return
    from mboxed.images.network_needs import runtime_needs

    rows = image_rows(app)
    needs = runtime_needs(app.context().profile)
    if as_json:
        listed = [dataclasses.asdict(need) for need in needs]
        click.echo(json.dumps({"images": rows, "network_needs": listed}, indent=2))
        return
    for row in rows:
        node = {True: "on node", False: "not on node", None: "node ?"}[row["on_node"]]
        pin = f", pinned {row['digest'][:19]}…" if row["digest"] else ""
        click.echo(f"{row['image']}  [{node}, {_size(row['size'])}{pin}]")
        click.echo(f"    from {row['source']}")
        for use in row["uses"]:
            role = "init container" if use["init"] else "container"
            click.echo(
                f"    {use['kind']}/{use['name']} {role} {use['container']} ({use['pull_policy']})"
            )
    click.echo(f"{len(rows)} images")
    if needs:
        click.echo("still needs the internet at run time (no image provides it):")
        for need in needs:
            click.echo(f"    {need.line()}")


def write_pins(app: App, path: str) -> None:
    """Write the deployment's pins (after an `up` has pulled its images)."""
    from mboxed.files import replacing
    from mboxed.images.pins_file import dump_pins

    pins = deployment_pins(app.context())
    if not pins:
        raise MboxedError(
            "no digests recorded yet: the images have not been pulled",
            hint="run `mboxed up` first (its `images` step records them)",
        )
    with replacing(Path(path).expanduser(), 0o644) as tmp:  # not secret: digests are public
        tmp.write_text(dump_pins(pins), encoding="utf-8")
    click.echo(f"{len(pins)} pins written to {path}")
