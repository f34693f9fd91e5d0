"""The release's plan, facts in, plan out: install, nothing, upgrade (and
why), and the LDAP seeding Job or StatefulSet, or the EOS configuration Job,
deleted before an upgrade."""

from __future__ import annotations

from typing import Any

import pytest

from mboxed.sciencebox.release import ReleaseFacts, changed_keys, plan_release, secret_strings

JOB = "sciencebox-ldap-instance-config"
STS = "sciencebox-ldap"
EOS_JOB = "sciencebox-eos-instance-config"


def _facts(**kwargs: Any) -> ReleaseFacts:
    base: dict[str, Any] = {
        "release": "sciencebox",
        "namespace": "default",
        "chart_path": "/c.tgz",
        "chart_version": "0.0.8",
        "desired": {"a": {"b": 1}},
        "status": {"version": 3, "info": {"status": "deployed"}},
        "deployed": {"a": {"b": 1}},
        "deployed_chart": "sciencebox-0.0.8",
        "seed_job": JOB,
        "ldap_statefulset": STS,
    }
    base.update(kwargs)
    return ReleaseFacts(**base)


@pytest.mark.parametrize(
    ("facts", "kinds", "words"),
    [
        (_facts(status=None), ["install"], "install release sciencebox"),
        (_facts(), [], "is at revision 3"),
        (_facts(deployed={"a": {"b": 2}}), ["upgrade"], "values changed: a.b"),
        (_facts(deployed_chart="sciencebox-0.0.7"), ["upgrade"], "sciencebox-0.0.7 -> sciencebox"),
        (
            _facts(status={"version": 2, "info": {"status": "failed"}}),
            ["upgrade"],
            "status is failed",
        ),
        (_facts(seed_job_state="present"), [], "is at revision 3"),
        (_facts(seed_job_state="missing"), ["reseed", "upgrade"], f"{JOB} (it is missing)"),
        (
            _facts(users_changed=True, deployed={"x": 0}, seed_job_state="present"),
            ["reseed", "upgrade"],
            "(users or groups changed)",
        ),
        (
            _facts(users_changed=True, deployed={"x": 0}, eos_job=EOS_JOB),
            ["reseed", "reconfigure-eos", "upgrade"],
            "(users or groups changed)",
        ),
        (
            _facts(eos_job=EOS_JOB, deployed={"x": 0}),
            ["reconfigure-eos", "upgrade"],
            f"re-run the EOS configuration job {EOS_JOB} (users changed)",
        ),
        (
            _facts(storage_changed=True, users_changed=True, deployed={"x": 0}),
            ["recreate-ldap", "upgrade"],
            f"delete statefulset {STS} and job {JOB}",
        ),
    ],
)
def test_plan_table(facts: ReleaseFacts, kinds: list[str], words: str) -> None:
    plan = plan_release(facts)
    assert [a.kind for a in plan.actions] == kinds
    text = plan.actions[0].summary if plan.actions else plan.reason
    assert words in text


def test_changed_keys_name_paths_only() -> None:
    assert changed_keys({"a": {"b": "s3cret"}, "c": 1}, {"a": {"b": "n3w"}, "d": 2}) == [
        "a.b",
        "c",
        "d",
    ]


def test_secret_strings_are_the_generated_ones_not_the_public_demo_passwords() -> None:
    users = [
        {"uid": "einstein", "password": "relativity", "source": "classic"},
        {"uid": "student01", "password": "fresh-one-1", "source": "generated"},
    ]
    assert secret_strings({"a": "s3cret-a", "n": 3}, users) == ["s3cret-a", "fresh-one-1"]
