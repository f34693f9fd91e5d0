from __future__ import annotations

import click
import yaml

from mboxed.profile import load_profile, shipped_profiles


@click.group()
def profiles() -> None:
    """List and show profiles."""


@profiles.command("list")
def list_() -> None:
    """List the shipped profiles."""
    for name in shipped_profiles():
        loaded = load_profile(name)
        click.echo(f"{name:<10} {loaded.profile.description}")


@profiles.command()
@click.argument("name")
@click.option(
    "-f", "files", multiple=True, metavar="FILE", help="Extra profile YAML merged on top."
)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a key.")
def show(name: str, files: tuple[str, ...], overrides: tuple[str, ...]) -> None:
    """Print the merged, validated profile NAME (a shipped name or a file)."""
    loaded = load_profile(name, files, overrides)
    click.echo("# from: " + " <- ".join(loaded.sources))
    data = loaded.profile.model_dump(mode="json", exclude={"extends"})
    click.echo(yaml.safe_dump(data, sort_keys=False).rstrip())
