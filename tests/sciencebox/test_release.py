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


def _history(*statuses: str) -> tuple[dict[str, Any], ...]:
    return tuple({"revision": n, "status": st} for n, st in enumerate(statuses, 1))


def _stuck(state: str, before: str, **kwargs: Any) -> ReleaseFacts:
    """Revision 4 pending; revision 3 `before`; 1 and 2 superseded."""
    status = {"version": 4, "info": {"status": state, "description": _DESCRIPTIONS[state]}}
    history = _history("superseded", "superseded", before, state)
    return _facts(**{"status": status, "history": history, "deployed": {"a": {"b": 2}}, **kwargs})


_DESCRIPTIONS = {
    "pending-upgrade": "Preparing upgrade",
    "pending-rollback": "Rollback to 2",
}


def _failed_after_deployed() -> ReleaseFacts:
    info = {"status": "failed", "description": 'Upgrade "sciencebox" failed: context canceled'}
    return _facts(
        status={"version": 4, "info": info},
        history=_history("superseded", "superseded", "deployed", "failed"),
    )


@pytest.mark.parametrize(
    ("facts", "kinds", "words"),
    [
        (_facts(status=None), ["install"], "install release sciencebox"),
        (_facts(), [], "is at revision 3"),
        (_facts(deployed={"a": {"b": 2}}), ["upgrade"], "values changed: a.b"),
        (_facts(deployed_chart="sciencebox-0.0.7"), ["upgrade"], "sciencebox-0.0.7 -> sciencebox"),
        (
            # a local chart edited in place: same name-version, other bytes
            _facts(chart_digest="sha256:" + "b" * 64, deployed_chart_digest="sha256:" + "a" * 64),
            ["upgrade"],
            "chart sciencebox-0.0.8 changed: aaaaaaaaaaaa -> bbbbbbbbbbbb",
        ),
        # no digest recorded (an install before mboxed recorded it): not a change
        (_facts(chart_digest="sha256:" + "b" * 64), [], "is at revision 3"),
        (_facts(chart_digest="sha256:1", deployed_chart_digest="sha256:1"), [], "is at revision 3"),
        (
            _facts(status={"version": 2, "info": {"status": "failed"}}),
            ["upgrade"],
            "revision 2 is failed; helm upgrades a failed release in place",
        ),
        (
            _failed_after_deployed(),
            ["upgrade"],
            'revision 4 is failed (Upgrade "sciencebox" failed: context canceled); helm '
            "upgrades a failed release from revision 3, the last deployed",
        ),
        (
            _stuck("pending-upgrade", "deployed"),
            ["rollback", "upgrade"],
            "roll back release sciencebox in namespace default to revision 3, the last "
            "deployed one: revision 4 is pending-upgrade (Preparing upgrade)",
        ),
        (
            # a rollback killed in its turn: back to the newest revision that was deployed
            _stuck("pending-rollback", "superseded"),
            ["rollback", "upgrade"],
            "to revision 3, the last deployed one: revision 4 is pending-rollback",
        ),
        (
            _stuck("pending-upgrade", "deployed", seed_job_state="missing"),
            ["rollback", "reseed", "upgrade"],
            "(helm rollback sciencebox 3)",
        ),
        (
            _facts(
                status={"version": 1, "info": {"status": "pending-install"}},
                history=({"revision": 1, "status": "pending-install"},),
            ),
            ["uninstall", "install"],
            "revision 1 is pending-install; its install never deployed, so there is no "
            "revision to roll back to",
        ),
        (
            # an install that failed, then an upgrade killed: nothing ever deployed
            _facts(
                status={"version": 2, "info": {"status": "pending-upgrade"}},
                history=(
                    {"revision": 1, "status": "failed"},
                    {"revision": 2, "status": "pending-upgrade"},
                ),
            ),
            ["uninstall", "install"],
            "no revision to roll back to",
        ),
        (
            _facts(status={"version": 3, "info": {"status": "uninstalling"}}),
            ["uninstall", "install"],
            "a helm uninstall never finished",
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


def test_a_pending_release_is_rolled_back_to_its_last_deployed_revision_then_upgraded() -> None:
    rollback, upgrade = plan_release(_stuck("pending-upgrade", "deployed")).actions
    assert rollback.detail == {"release": "sciencebox", "namespace": "default", "revision": 3}
    assert "a helm run that never finished" in rollback.summary
    # the upgrade says why, although the wanted values may be those of the pending revision
    assert upgrade.summary.startswith(
        "upgrade release sciencebox in namespace default: revision 4 never finished "
        "(pending-upgrade)"
    )
    same = _stuck("pending-upgrade", "deployed", deployed={"a": {"b": 1}})
    assert [a.kind for a in plan_release(same).actions] == ["rollback", "upgrade"]
