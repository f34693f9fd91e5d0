"""Step `secrets`: plan on a fresh world, apply, apply again; kept across runs;
never in the log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mboxed.sciencebox import secrets as sb
from mboxed.steps.secrets import make
from tests.sciencebox.context import make_ctx, run


def test_three_way_plan_apply_apply_again(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    step = make()
    plan = step.plan(ctx, step.facts(ctx))
    assert not plan.empty
    assert plan.actions[0].summary.startswith(f"generate all {len(sb.SECRET_NAMES)} secrets")
    assert not ctx.state.path.exists()  # planning changed nothing
    assert run(ctx, step) == ["done"]
    stored = ctx.outputs("secrets")
    assert sb.missing(stored) == []
    assert run(ctx, step) == ["skipped"]
    assert ctx.outputs("secrets") == stored
    assert ctx.state.path.stat().st_mode & 0o777 == 0o600


def test_rerun_in_a_new_process_keeps_the_secrets(tmp_path: Path) -> None:
    first = make_ctx(tmp_path)
    run(first, make())
    again = make_ctx(tmp_path)  # loads the state file afresh
    assert run(again, make()) == ["skipped"]
    assert again.outputs("secrets") == first.outputs("secrets")


def test_a_secret_lost_from_the_state_is_generated_alone(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    run(ctx, make())
    before = ctx.outputs("secrets")
    del ctx.state.step("secrets").outputs["eos_sss_keytab"]
    ctx.state.save()
    plan = make().plan(ctx, make().facts(ctx))
    assert [a.summary for a in plan.actions] == ["generate 1 secret(s): eos_sss_keytab"]
    assert run(ctx, make()) == ["done"]
    after = ctx.outputs("secrets")
    assert {k: v for k, v in after.items() if k != "eos_sss_keytab"} == {
        k: v for k, v in before.items() if k != "eos_sss_keytab"
    }
    assert sb.KEYTAB_LINE.match(after["eos_sss_keytab"])


def test_secrets_are_registered_for_redaction(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = make_ctx(tmp_path)
    run(ctx, make())
    secret = ctx.outputs("secrets")["ldap_admin_password"]
    with caplog.at_level(logging.DEBUG, logger="mboxed"):
        ctx.shell.run(["echo", f"password={secret}"])
    assert secret not in caplog.text
    assert "password=***" in caplog.text
    # a fresh process registers them from the state during facts
    fresh = make_ctx(tmp_path)
    make().facts(fresh)
    assert fresh.shell.redact(secret) == "***"
