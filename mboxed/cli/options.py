"""Options shared by the commands that act on a deployment, and the App they build."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

import click

from mboxed.app import App
from mboxed.cli import Invocation
from mboxed.contract import Options

F = TypeVar("F", bound=Callable[..., Any])


def deployment_options(*, profile: bool = True, run: bool = False) -> Callable[[F], F]:
    """Add --name (and --profile/-f/--set, and run options) and pass an `app`."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(**kwargs: Any) -> Any:
            options = Options(
                yes=kwargs.pop("yes", False),
                force=kwargs.pop("force", False),
                mirror=kwargs.pop("mirror", None) or os.environ.get("MBOXED_MIRROR") or None,
                trust=kwargs.pop("trust", False),
            )
            app = App(
                deployment=kwargs.pop("name"),
                profile_ref=kwargs.pop("profile", None),
                files=tuple(kwargs.pop("files", ())),
                overrides=tuple(kwargs.pop("overrides", ())),
                options=options,
            )
            invocation = click.get_current_context().find_object(Invocation)
            if invocation is not None:  # run through main(), not click alone
                invocation.app = app
            return fn(app=app, **kwargs)

        decorated: Any = wrapper
        if run:
            decorated = click.option(
                "--mirror",
                metavar="URL",
                help="Base URL that stands in for the upstream download hosts "
                "(same paths). Also MBOXED_MIRROR.",
            )(decorated)
            decorated = click.option(
                "--force", is_flag=True, help="Recreate what differs without asking."
            )(decorated)
            decorated = click.option(
                "--yes", "-y", is_flag=True, help="Answer yes to every question."
            )(decorated)
        if profile:
            decorated = click.option(
                "--set",
                "overrides",
                multiple=True,
                metavar="KEY=VALUE",
                help="Override one profile key, e.g. --set provider.cpus=6 (repeatable).",
            )(decorated)
            decorated = click.option(
                "-f",
                "files",
                multiple=True,
                metavar="FILE",
                help="Extra profile YAML merged on top (repeatable).",
            )(decorated)
            decorated = click.option(
                "--profile",
                "-p",
                metavar="NAME|FILE",
                help="Profile: demo, minimal, workshop, ci, or a YAML file. "
                "Default: the one the last `up` used, else demo.",
            )(decorated)
        decorated = click.option(
            "--name",
            "-n",
            default="default",
            show_default=True,
            metavar="NAME",
            help="Deployment name (one state, one cluster each).",
        )(decorated)
        return cast(F, decorated)

    return decorate
