"""`mboxed stop`: stop the deployment's cluster, keeping its data."""

from __future__ import annotations

import click

from mboxed.app import App
from mboxed.cli.options import deployment_options
from mboxed.errors import MboxedError


@click.command()
@deployment_options(profile=False)
def stop(app: App) -> None:
    """Stop the cluster, keeping its data; frees CPU and RAM.

    `mboxed start` (or `mboxed up`) brings it back, also after a reboot.
    """
    from mboxed.providers.service import make_provider
    from mboxed.state import deployment_lock

    outputs = app.state.outputs("cluster") if app.state.exists else {}
    if not outputs.get("provider"):
        raise MboxedError(
            f"deployment {app.deployment!r} has no cluster yet: nothing to stop",
            hint="run `mboxed up` first",
        )
    if outputs["provider"] == "existing":
        raise MboxedError(
            f"deployment {app.deployment!r} runs on an existing cluster "
            f"(context {outputs.get('context')!r}); mboxed does not stop a cluster "
            "it did not create",
            hint="scale the workloads down with kubectl if you need the resources",
        )
    ctx = app.context()
    provider = make_provider(ctx)
    with deployment_lock(app.paths.lock_file(app.deployment), "stop"):
        status = provider.status()
        if not status.exists:
            raise MboxedError(
                f"{provider.name} cluster {provider.spec.name!r} does not exist",
                hint="run `mboxed up` to create it again",
            )
        if not status.running:
            click.echo(f"{provider.name} cluster {provider.spec.name!r} is already {status.state}")
            return
        provider.stop(lambda line: click.echo(f"  {line}"))
    click.echo(
        f"stopped {provider.name} cluster {provider.spec.name!r}; its data is kept. "
        "`mboxed start` brings it back."
    )
