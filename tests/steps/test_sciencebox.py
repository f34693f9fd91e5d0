"""Step `sciencebox` against the `helm` stand-in: plan, install, nothing,
upgrade on changed values, uninstall on down."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from mboxed.contract import Context
from mboxed.engine import Pipeline
from mboxed.errors import Deferred, MboxedError
from mboxed.sciencebox.helm import KubeContextMissing
from mboxed.sciencebox.postrender import make_config
from mboxed.shell import CommandError
from mboxed.steps.sciencebox import ScienceBoxStep, desired_values, postrender_config
from tests.sciencebox.context import web_assets_outputs
from tests.sciencebox.registry import chart_tgz
from tests.steps.sciencebox_world import World, make_world

VALUES: dict[str, Any] = {
    "nginx-welcome-page": {"ingress": {"hostname": "box.example.org"}},
    "cernbox": {"ocis": {"env": {"IDP_ISS": "https://box.example.org"}}},
    "swan": {"jupyterhub": {"proxy": {"secretToken": "0123456789abcdef0123456789abcdef"}}},
}


TEMPLATE_SECRETS = {
    "reva_jwt_secret": "jwt-" + "1" * 40,
    "ocis_transfer_secret": "transfer-" + "2" * 30,
    "ocis_machine_auth_api_key": "machine-" + "3" * 30,
    "ldap_readonly_password": "readonly-" + "4" * 20,
    "mariadb_root_password": "mariadb-" + "5" * 20,
    "swan_oidc_client_secret": "swanclient-" + "6" * 20,
    "supervisord_password": "supervisor-" + "7" * 20,
}
# A template of the chart holding a secret it hard-codes (as cernbox's revad
# TOML does with jwt_secret): the post-renderer must replace it.
GATEWAY = {
    "sciencebox/charts/cernbox/templates/gateway.yaml": "apiVersion: v1\nkind: ConfigMap\n"
    "metadata:\n  name: gateway-config\ndata:\n  gateway.toml: |\n"
    '    jwt_secret = "POZSOrlP7AgnTxH7MJebWV8ohvsApgbd4u3Joen30c"\n'
}


def postrender(ctx: Context) -> dict[str, Any]:
    return make_config(TEMPLATE_SECRETS, {"swan": True, "cernbox": True})


class Values:
    """The values source the step calls; tests change it between runs."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = json.loads(json.dumps(values))

    def __call__(self, ctx: Context) -> dict[str, Any]:
        return json.loads(json.dumps(self.values))


def installed_world(tmp_path: Path, **kwargs: Any) -> World:
    world = make_world(tmp_path, **kwargs)
    tgz = tmp_path / "sciencebox-0.0.8.tgz"
    tgz.write_bytes(chart_tgz("sciencebox", "0.0.8", GATEWAY))
    world.record(
        "chart",
        {
            "path": str(tgz),
            "digest": "sha256:" + "a" * 64,
            "name": "sciencebox",
            "version": "0.0.8",
        },
    )
    world.record(
        "cluster",
        {
            "provider": "minikube",
            "context": "mboxed-default",
            "kubeconfig": str(tmp_path / "kubeconfig"),
            "hostname": "box.example.org",
            "ingress_address": "127.0.0.1",
            "https_port": 443,
            "created_by_mboxed": True,
        },
    )
    world.record(
        "secrets",
        {"jupyterhub_proxy_token": "0123456789abcdef0123456789abcdef", **TEMPLATE_SECRETS},
    )
    world.record("web-assets", web_assets_outputs())
    return world


def run(world: World, step: ScienceBoxStep) -> str:
    return Pipeline([step], retry_wait=0).up(world.ctx)[0].outcome


KUBE = ["--namespace", "default", "--kube-context", "mboxed-default", "--kubeconfig"]


def test_three_way_install_then_nothing_then_upgrade_on_changed_values(tmp_path: Path) -> None:
    world = installed_world(tmp_path)
    values = Values(VALUES)
    step = ScienceBoxStep(values, postrender)

    # 1. plan on a fresh world: an install, and nothing changed
    plan = step.plan(world.ctx, step.facts(world.ctx))
    assert [a.kind for a in plan.actions] == ["install"]
    assert "install release sciencebox in namespace default" in plan.actions[0].summary
    assert world.helm_state()["releases"] == {}
    assert not world.helm_calls("upgrade")

    # 2. apply: one `helm upgrade --install` with the cached chart and one values file
    assert run(world, step) == "done"
    (upgrade,) = world.helm_calls("upgrade")
    values_path = tmp_path / "mboxed-home/state/default/sciencebox-values.json"
    assert upgrade == [
        "upgrade",
        "--install",
        "sciencebox",
        str(tmp_path / "sciencebox-0.0.8.tgz"),
        "--create-namespace",
        "--values",
        str(values_path),
        "--post-renderer",
        str(values_path.parent / "postrender" / "postrender"),
        *KUBE,
        str(tmp_path / "kubeconfig"),
    ]
    # helm ran the post-renderer: the stored manifest has our secret, not the chart's
    (release,) = world.helm_state()["releases"].values()
    assert 'jwt_secret = "jwt-1111' in release[-1]["manifest"]
    assert "POZSOrl" not in release[-1]["manifest"]
    assert not [a for a in upgrade if a == "--set"], "no wall of --set"
    assert stat.S_IMODE(values_path.stat().st_mode) == 0o600
    assert json.loads(values_path.read_text()) == VALUES
    assert json.loads(world.helm_state()["values_files"][0]["content"]) == VALUES
    outputs = world.ctx.outputs("sciencebox")
    assert outputs["revision"] == 1 and outputs["status"] == "deployed"

    # 3. again: nothing to do, nothing run but reads
    calls_before = len(world.helm_calls())
    assert run(world, step) == "skipped"
    new_calls = world.helm_calls()[calls_before:]
    assert [c[0] for c in new_calls] == ["status", "get", "list"]

    # 4. changed values: an upgrade naming the changed key, not its value
    values.values["nginx-welcome-page"]["ingress"]["hostname"] = "other.example.org"
    plan = step.plan(world.ctx, step.facts(world.ctx))
    assert [a.kind for a in plan.actions] == ["upgrade"]
    assert "values changed: nginx-welcome-page.ingress.hostname" in plan.actions[0].summary
    assert "other.example.org" not in plan.actions[0].summary
    assert run(world, step) == "done"
    assert len(world.helm_calls("upgrade")) == 2
    assert world.ctx.outputs("sciencebox")["revision"] == 2
    assert run(world, step) == "skipped"


def test_secrets_never_reach_the_log_or_the_plan(tmp_path: Path) -> None:
    world = installed_world(tmp_path)
    step = ScienceBoxStep(Values(VALUES), postrender)
    run(world, step)
    assert world.ctx.shell.redact("token 0123456789abcdef0123456789abcdef") == "token ***"


def test_down_uninstalls_the_release_and_removes_the_values_file(tmp_path: Path) -> None:
    world = installed_world(tmp_path)
    step = ScienceBoxStep(Values(VALUES), postrender)
    run(world, step)
    values_path = Path(world.ctx.outputs("sciencebox")["values_file"])
    assert values_path.exists()

    Pipeline([step]).down(world.ctx)

    (uninstall,) = world.helm_calls("uninstall")
    assert uninstall == ["uninstall", "sciencebox", *KUBE, str(tmp_path / "kubeconfig")]
    assert world.helm_state()["releases"] == {}
    assert not values_path.exists()
    # idempotent: a second undo (interrupted down re-run) meets "release: not found"
    world.ctx.current_step = "sciencebox"
    step.undo(world.ctx, world.ctx.journal("sciencebox") or _journal_of_install(tmp_path))


def _journal_of_install(tmp_path: Path) -> list[Any]:
    from mboxed.journal import JournalEntry

    return [
        JournalEntry(
            "helm_release",
            {
                "release": "sciencebox",
                "namespace": "default",
                "context": "mboxed-default",
                "kubeconfig": str(tmp_path / "kubeconfig"),
            },
        )
    ]


def test_uninstall_of_a_release_already_gone_is_fine_but_other_errors_are_not(
    tmp_path: Path,
) -> None:
    world = installed_world(tmp_path)
    step = ScienceBoxStep(Values(VALUES), postrender)
    world.ctx.current_step = "sciencebox"
    step.undo(world.ctx, _journal_of_install(tmp_path))  # not found: fine
    assert world.helm_calls("uninstall")

    broken = installed_world(tmp_path / "b", env={"MBOXED_FAKE_HELM_UNREACHABLE": "1"})
    broken.record("cluster", {"created_by_mboxed": False, "context": "theirs"})
    with pytest.raises(MboxedError, match="Kubernetes cluster unreachable"):
        step.undo(broken.ctx, _journal_of_install(tmp_path))


def test_a_release_removed_by_hand_is_noticed(tmp_path: Path) -> None:
    world = installed_world(tmp_path)
    step = ScienceBoxStep(Values(VALUES), postrender)
    run(world, step)
    world.ctx.shell.run(["helm", "uninstall", "sciencebox", "--namespace", "default"])
    plan = step.plan(world.ctx, step.facts(world.ctx))
    assert [a.kind for a in plan.actions] == ["install"]


def test_deferred_until_chart_and_cluster_have_run(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    step = ScienceBoxStep(Values(VALUES), postrender)
    with pytest.raises(Deferred, match="after chart"):
        step.facts(world.ctx)
    tgz = tmp_path / "c.tgz"
    tgz.write_bytes(chart_tgz("sciencebox", "0.0.8"))
    world.record("chart", {"path": str(tgz), "name": "sciencebox", "version": "0.0.8"})
    with pytest.raises(Deferred, match="after cluster"):
        step.facts(world.ctx)


def test_a_namespace_other_than_default_is_refused_for_the_sciencebox_chart(
    tmp_path: Path,
) -> None:
    world = installed_world(tmp_path, overrides=("sciencebox.namespace=science",))
    with pytest.raises(MboxedError, match=r"sciencebox\.namespace") as caught:
        ScienceBoxStep(Values(VALUES), postrender).facts(world.ctx)
    assert "default" in caught.value.hint
    assert not world.helm_calls()


def test_an_unreachable_cluster_is_a_retryable_error(tmp_path: Path) -> None:
    from mboxed.errors import TransientError

    world = installed_world(tmp_path, env={"MBOXED_FAKE_HELM_UNREACHABLE": "1"})
    with pytest.raises(TransientError, match="unreachable"):
        ScienceBoxStep(Values(VALUES), postrender).facts(world.ctx)


def test_a_release_deployed_with_chart_default_secrets_is_upgraded(tmp_path: Path) -> None:
    world = installed_world(tmp_path)
    chart = world.ctx.outputs("chart")["path"]
    # someone installed the chart by hand, without the post-renderer
    world.ctx.shell.run(["helm", "upgrade", "--install", "sciencebox", chart, "-n", "default"])
    step = ScienceBoxStep(Values({}), postrender)
    facts = step.facts(world.ctx)
    assert facts.leftover_defaults
    plan = step.plan(world.ctx, facts)
    assert "chart default secret(s) in the manifest" in plan.actions[0].summary
    assert run(world, step) == "done"
    assert run(world, step) == "skipped"


def test_new_template_secrets_trigger_an_upgrade(tmp_path: Path) -> None:
    world = installed_world(tmp_path)
    run(world, ScienceBoxStep(Values(VALUES), postrender))

    def rotated(ctx: Context) -> dict[str, Any]:
        return make_config(
            {**TEMPLATE_SECRETS, "reva_jwt_secret": "rotated-" + "9" * 30},
            {"swan": True, "cernbox": True},
        )

    step = ScienceBoxStep(Values(VALUES), rotated)
    plan = step.plan(world.ctx, step.facts(world.ctx))
    assert "post-render config" in plan.actions[0].summary
    assert "rotated-" not in plan.actions[0].summary


def test_with_the_real_values_and_post_renderer_of_this_deployment(tmp_path: Path) -> None:
    """secrets, tls and users steps for real, then the install with what
    values_for / config_for make of them: the file helm got carries the
    hostname and no chart default secret; the post-renderer replaced the
    template's hard-coded one."""
    from mboxed.sciencebox.postrender import leftover_defaults
    from mboxed.steps import secrets, tls, users

    world = installed_world(tmp_path)
    world.ctx.state.drop_step("secrets")
    Pipeline([secrets.make(), tls.make(), users.make()], retry_wait=0).up(world.ctx)
    step = ScienceBoxStep()
    assert run(world, step) == "done"

    sent = json.loads(world.helm_state()["values_files"][-1]["content"])
    assert sent["cernbox"]["ocis"]["env"]["IDP_ISS"] == "https://box.example.org"
    assert sent["nginx-welcome-page"]["ingress"]["hostname"] == "box.example.org"
    text = json.dumps(sent)
    for default in ("sciencebox.local", "Pive-Fumkiu4", "random_api_key"):
        assert default not in text
    (release,) = world.helm_state()["releases"].values()
    assert release[-1]["manifest"] and not leftover_defaults(release[-1]["manifest"])
    assert run(world, step) == "skipped"


def test_values_defer_until_their_input_steps_ran(tmp_path: Path) -> None:
    from mboxed.steps import secrets, tls, users
    from tests.sciencebox.context import make_ctx, record
    from tests.sciencebox.context import run as run_steps

    ctx = make_ctx(tmp_path)  # hostname auto
    with pytest.raises(Deferred) as deferred:
        desired_values(ctx)
    assert deferred.value.after == "cluster"
    record(ctx, "cluster", {"hostname": "192-168-49-2.nip.io"})
    for after in ("secrets", "users", "tls", "web-assets"):
        with pytest.raises(Deferred) as deferred:
            desired_values(ctx)
        assert deferred.value.after == after
        if after == "secrets":
            with pytest.raises(Deferred, match="after secrets"):
                postrender_config(ctx)
        if after == "web-assets":
            record(ctx, after, web_assets_outputs())
        else:
            run_steps(ctx, {"secrets": secrets, "users": users, "tls": tls}[after].make())
    values = desired_values(ctx)
    assert values["cernbox"]["ocis"]["env"]["IDP_ISS"] == "https://192-168-49-2.nip.io"
    config = postrender_config(ctx)
    assert ctx.outputs("secrets")["reva_jwt_secret"] in json.dumps(config)


def test_a_profile_that_cannot_work_is_refused_before_waiting_for_the_cluster(
    tmp_path: Path,
) -> None:
    from tests.sciencebox.context import make_ctx

    ctx = make_ctx(tmp_path, overrides=["sciencebox.components.cernbox=false"])  # hostname auto
    with pytest.raises(MboxedError, match="swan needs cernbox"):
        desired_values(ctx)


def _releases(world: World) -> list[dict[str, Any]]:
    revisions: list[dict[str, Any]] = world.helm_state()["releases"]["default/sciencebox"]
    return revisions


def test_an_upgrade_past_its_timeout_is_stopped_gently_and_the_failed_release_upgraded(
    tmp_path: Path,
) -> None:
    """mboxed's timeout sends helm SIGINT: helm marks the revision failed
    (not pending), and the next run upgrades it, saying why."""
    world = installed_world(tmp_path)
    values = Values(VALUES)
    step = ScienceBoxStep(values, postrender, helm_timeout=2)
    assert run(world, step) == "done"
    values.values["nginx-welcome-page"]["ingress"]["hostname"] = "other.example.org"
    world.ctx.shell.env["MBOXED_FAKE_HELM_UPGRADE"] = "hang"
    with pytest.raises(MboxedError) as caught:
        run(world, step)
    assert "timed out after 2s; stopped with SIGINT" in caught.value.message
    assert "UPGRADE FAILED: context canceled" in caught.value.message
    assert isinstance(caught.value, CommandError)
    assert "Release sciencebox has been cancelled." in caught.value.stdout
    assert [r["status"] for r in _releases(world)] == ["deployed", "failed"]
    assert _releases(world)[-1]["description"] == 'Upgrade "sciencebox" failed: context canceled'

    del world.ctx.shell.env["MBOXED_FAKE_HELM_UPGRADE"]
    (upgrade,) = step.plan(world.ctx, step.facts(world.ctx)).actions
    assert (
        'revision 2 is failed (Upgrade "sciencebox" failed: context canceled); helm '
        "upgrades a failed release from revision 1, the last deployed" in upgrade.summary
    )
    assert run(world, step) == "done"
    assert [r["status"] for r in _releases(world)] == ["superseded", "failed", "deployed"]
    assert run(world, step) == "skipped"


def _killed_upgrade(world: World, *extra: str) -> None:
    """A `helm upgrade` that never ended (killed, power lost): its revision
    stays pending. The fake gives up hanging at once, as a SIGKILL would end it."""
    chart = world.ctx.outputs("chart")["path"]
    done = world.ctx.shell.run(
        ["helm", "upgrade", "--install", "sciencebox", chart, "-n", "default", *extra],
        env={"MBOXED_FAKE_HELM_UPGRADE": "hang", "MBOXED_FAKE_HELM_HANG_SECONDS": "0"},
        check=False,
    )
    assert done.returncode == 124


def test_a_release_left_pending_upgrade_is_rolled_back_then_upgraded(tmp_path: Path) -> None:
    world = installed_world(tmp_path)
    step = ScienceBoxStep(Values(VALUES), postrender)
    assert run(world, step) == "done"
    _killed_upgrade(world)
    assert [r["status"] for r in _releases(world)] == ["deployed", "pending-upgrade"]
    # what helm itself now says to any upgrade
    refused = world.ctx.shell.run(
        ["helm", "upgrade", "sciencebox", world.ctx.outputs("chart")["path"]], check=False
    )
    assert "another operation (install/upgrade/rollback) is in progress" in refused.stderr

    plan = step.plan(world.ctx, step.facts(world.ctx))
    assert [a.kind for a in plan.actions] == ["rollback", "upgrade"]
    assert plan.actions[0].summary.startswith(
        "roll back release sciencebox in namespace default to revision 1, the last deployed "
        "one: revision 2 is pending-upgrade (Preparing upgrade)"
    )
    assert run(world, step) == "done"
    assert world.helm_calls("rollback")[-1][:3] == ["rollback", "sciencebox", "1"]
    assert [r["status"] for r in _releases(world)] == [
        "superseded",
        "pending-upgrade",  # helm keeps it in the history as it was
        "superseded",
        "deployed",
    ]
    assert run(world, step) == "skipped"


def test_a_first_install_left_pending_is_uninstalled_then_installed(tmp_path: Path) -> None:
    world = installed_world(tmp_path)
    _killed_upgrade(world)
    assert [r["status"] for r in _releases(world)] == ["pending-install"]
    step = ScienceBoxStep(Values(VALUES), postrender)
    plan = step.plan(world.ctx, step.facts(world.ctx))
    assert [a.kind for a in plan.actions] == ["uninstall", "install"]
    assert "its install never deployed" in plan.actions[0].summary
    assert run(world, step) == "done"
    assert [r["status"] for r in _releases(world)] == ["deployed"]
    assert run(world, step) == "skipped"


def test_a_missing_kube_context_is_not_retried(tmp_path: Path) -> None:
    """`context "X" does not exist` comes back however often helm is asked:
    one call, and the hint names the way out."""
    world = installed_world(tmp_path, env={"MBOXED_FAKE_HELM_UNREACHABLE": "context"})
    step = ScienceBoxStep(Values(VALUES), postrender)
    with pytest.raises(KubeContextMissing) as caught:
        Pipeline([step], retry_attempts=3, retry_wait=0).up(world.ctx)
    assert 'context "mboxed-default" does not exist' in caught.value.message
    assert "cluster step" in caught.value.hint
    assert len(world.helm_calls("status")) == 1


def test_a_local_chart_edited_without_a_version_bump_is_upgraded(tmp_path: Path) -> None:
    world = installed_world(tmp_path)
    step = ScienceBoxStep(Values(VALUES), postrender)
    assert run(world, step) == "done"
    assert world.ctx.outputs("sciencebox")["chart_digest"] == "sha256:" + "a" * 64
    # the chart step found other bytes under the same name-version (a local chart edited)
    chart = dict(world.ctx.outputs("chart"), digest="sha256:" + "c" * 64)
    world.record("chart", chart)
    plan = step.plan(world.ctx, step.facts(world.ctx))
    assert [a.kind for a in plan.actions] == ["upgrade"]
    assert "chart sciencebox-0.0.8 changed: aaaaaaaaaaaa -> cccccccccccc" in plan.actions[0].summary
    assert run(world, step) == "done"
    assert len(world.helm_calls("upgrade")) == 2
    assert world.ctx.outputs("sciencebox")["chart_digest"] == "sha256:" + "c" * 64
    assert run(world, step) == "skipped"
