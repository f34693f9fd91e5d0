from __future__ import annotations

import click

from mboxed.errors import MboxedError


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def start() -> None:
    """Not in this build of mboxed yet."""
    raise MboxedError("`mboxed start` is not in this build of mboxed yet")
