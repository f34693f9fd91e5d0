"""The chart's two Job scripts, as mboxed's post-renderer leaves them, run for
real a second time after the users changed.

The model chart (tests/charts/sciencebox) is rendered by real Helm with
mboxed's own post-renderer; each Job's command then runs here as the kubelet
would start it (tests/sciencebox/job_runner.py): the LDAP seeding script
against a real slapd on 127.0.0.1 with Debian's ldap-utils, the EOS script
against the `eos` stand-in (tests/fakes/bin/eos).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mboxed.sciencebox import accounts, allocation, roster
from mboxed.sciencebox import secrets as sb_secrets
from mboxed.sciencebox.accounts import User
from mboxed.sciencebox.job_scripts import SCRIPT_EDITS
from mboxed.sciencebox.ldif import render_ldif
from mboxed.sciencebox.postrender import make_config, render, write_post_renderer
from tests.helm import Helm
from tests.sciencebox.job_runner import objects, run_job
from tests.sciencebox.user_sets import wanted
from tests.services.slapd import ADMIN_DN, Slapd, slapd_or_skip

FAKE_EOS = Path(__file__).resolve().parent.parent / "fakes" / "bin" / "eos"
ADMIN_PASSWORD = "seed-admin-Xq7"
SEED_JOB = "sciencebox-ldap-instance-config"
EOS_JOB = "sciencebox-eos-instance-config"


def rendered(
    helm: Helm, tmp: Path, users: Sequence[User], groups: Any, removed: Sequence[str] = ()
) -> str:
    """`helm template` of the model chart with the users' values and mboxed's
    post-renderer, as `helm upgrade --install` would apply it."""
    values = {
        "ldap-instance-config": {
            "ldap_bindpw": ADMIN_PASSWORD,
            "ldifFiles": render_ldif(users, groups, removed),
        },
        "eos-instance-config": {
            # as mboxed.sciencebox.values sets them
            "config": {"demoUsers": {"userList": accounts.eos_user_list(users), "userBlock": None}}
        },
    }
    tmp.mkdir(parents=True)
    (tmp / "values.json").write_text(json.dumps(values))
    config = make_config(sb_secrets.complete({}), {"swan": True, "cernbox": True})
    renderer = write_post_renderer(tmp / "postrender", config)
    return helm.template(values=[tmp / "values.json"], post_renderer=renderer)


def seed(manifest: str, slapd: Slapd, tmp: Path) -> subprocess.CompletedProcess[str]:
    done = run_job(manifest, SEED_JOB, tmp / "job", tmp / "bin", {"LDAP_URI": slapd.uri})
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def binds(slapd: Slapd, user: User, password: str | None = None) -> int:
    return slapd.whoami(user.dn, user.password if password is None else password).returncode


def test_the_edits_apply_once_to_the_model_and_rendering_again_changes_nothing(
    real_helm: Helm, tmp_path: Path
) -> None:
    users, groups = allocation.build_users(wanted(classic=False, count=1))
    manifest = rendered(real_helm, tmp_path / "r", users, groups)
    scripts = {
        name: obj["data"]["instance_config.sh"]
        for (kind, name), obj in objects(manifest).items()
        if kind == "ConfigMap" and name.endswith("-instance-config-script")
    }
    ldap, eos = scripts[f"{SEED_JOB}-script"], scripts[f"{EOS_JOB}-script"]
    assert ldap.count("ldapadd -c -x ") == 1 and ldap.count("| \n") == 0
    assert ldap.count("ldapmodify -c -x -H $LDAP_URI -D $LDAP_BIND_DN") == 1
    assert "Exiting." not in eos and eos.count("if eos stat -d $homedir") == 1
    for source, pattern, _ in SCRIPT_EDITS:  # every edit found its place
        assert source in manifest and not re.search(pattern, manifest), pattern
    assert render(manifest, make_config(sb_secrets.complete({}), {})) == manifest


def test_a_changed_password_and_a_removed_user_reach_ldap_when_the_job_runs_again(
    real_helm: Helm, tmp_path: Path
) -> None:
    """First install; then the roster gives ann a new password, bob a new
    name, and drops cid. The same Job run again (as `up` re-runs it): ann
    binds with the new password and not the old one, cid is gone, everyone
    else still binds, and an attribute mboxed no longer writes is removed."""
    first_roster = "username,display name,password\nann,Ann A,ann-first-1\n" + (
        "bob,Bob B,bob-first-1\ncid,Cid C,cid-first-1\n"
    )
    first = tuple(roster.parse_roster(first_roster))
    users, groups = allocation.build_users(wanted(classic=False, count=2, roster=first))
    with slapd_or_skip(tmp_path, ADMIN_PASSWORD) as slapd:
        seed(rendered(real_helm, tmp_path / "r1", users, groups), slapd, tmp_path / "run1")
        assert all(binds(slapd, u) == 0 for u in users), [u.name for u in users]
        old = {u.name: u for u in users}

        second_roster = "username,display name,password\nann,Ann A,ann-second-2\nbob,Bob Bee,\n"
        second = tuple(roster.parse_roster(second_roster))
        previous = [u.to_dict() for u in users]
        users2, groups2 = allocation.build_users(
            wanted(classic=False, count=2, roster=second), previous
        )
        removed = accounts.removed_names(allocation.removed_users(previous, [], users2))
        assert removed == ["cid"]
        # an attribute mboxed owns but no longer writes for bob (dropped since)
        note = f"dn: {old['bob'].dn}\nchangetype: modify\nadd: description\ndescription: x\n"
        assert slapd.ldapadd(note).returncode == 0

        manifest = rendered(real_helm, tmp_path / "r2", users2, groups2, removed)
        done = seed(manifest, slapd, tmp_path / "run2")

        now = {u.name: u for u in users2}
        assert now["ann"].password == "ann-second-2"
        assert binds(slapd, now["ann"]) == 0
        assert binds(slapd, now["ann"], "ann-first-1") == 49  # the old one no longer works
        assert binds(slapd, old["cid"]) == 49
        assert "cid" not in slapd.search("ou=users,dc=owncloud,dc=com", "(uid=*)", "uid")
        for name in ("bob", "student01", "student02", "reva"):
            assert now[name].password == old[name].password
            assert binds(slapd, now[name]) == 0, name
        bob = slapd.search("ou=users,dc=owncloud,dc=com", "(uid=bob)", "displayName", "description")
        assert "displayName: Bob Bee\n" in bob and "description" not in bob
        # ldapmodify really ran in the Job (set -x shows each command)
        assert "ldapmodify -c -x -H" in done.stderr and ADMIN_DN in done.stderr


def eos_state(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def run_eos(manifest: str, tmp: Path, state: Path) -> None:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "eos").symlink_to(FAKE_EOS)
    # the stand-in's `#!/usr/bin/env python3` finds this one, not a slow shim
    (bin_dir / "python3").symlink_to(sys.executable)
    done = run_job(manifest, EOS_JOB, tmp / "job", bin_dir, {"MBOXED_FAKE_EOS_STATE": str(state)})
    assert done.returncode == 0, done.stderr[-3000:]


def home(user: User) -> str:
    return f"/eos/user/{user.name[0]}/{user.name}"


ONE_TIME = ("space", "vid", "recycle")


def test_ten_students_added_later_get_eos_homes_and_nothing_is_done_twice(
    real_helm: Helm, tmp_path: Path
) -> None:
    """A class of three, then thirteen: the second run of the Job, which finds
    EOS bootstrapped, still gives the ten new students a home owned by them
    and an access entry; no home is made or changed twice, and the one-time
    configuration is not repeated."""
    state = tmp_path / "eos.json"
    users, groups = allocation.build_users(wanted(count=3))
    run_eos(rendered(real_helm, tmp_path / "r1", users, groups), tmp_path / "run1", state)
    first = eos_state(state)
    assert "sciencebox_bootstrap" in first["configs"]
    assert sorted(first["access"]) == sorted(str(u.uid) for u in users)

    # a student changed their home's mode meanwhile: the next run leaves it
    first["dirs"][home(users[-1])]["mode"] = "2750"
    state.write_text(json.dumps(first))
    grown, grown_groups = allocation.build_users(wanted(count=13), [u.to_dict() for u in users])
    new = [u for u in grown if u.name not in {v.name for v in users}]
    assert len(new) == 10
    run_eos(rendered(real_helm, tmp_path / "r2", grown, grown_groups), tmp_path / "run2", state)
    after = eos_state(state)

    for user in grown:
        made = after["dirs"][home(user)]
        assert made["owner"] == f"{user.uid}:{user.gid}", user.name
        assert made["attrs"]["sys.acl"] == f"u:{user.uid}:rwx"
        assert str(user.uid) in after["access"]
    assert after["dirs"][home(users[-1])]["mode"] == "2750"
    assert all(after["dirs"][home(u)]["mode"] == "2700" for u in new)
    assert set(after["configs"]["default"]["access"]) == {str(u.uid) for u in grown}

    calls = [command(c["argv"]) for c in after["calls"]]
    refused = [command(c["argv"]) for c in after["calls"] if c["rc"]]
    # the only refusals: `stat -d` of a home that is not there yet (EFAULT)
    assert {argv[:2] for argv in refused} == {("stat", "-d")}
    assert len(refused) == len(users) + len(new)
    for argv in set(calls):
        if argv[0] in ONE_TIME or argv[:2] == ("attr", "-r"):
            assert calls.count(argv) == 1, argv
        if argv[0] in ("chown", "chmod") or argv[:2] == ("attr", "set"):
            assert calls.count(argv) == 1, argv  # each home made once
    assert calls.count(("mkdir", "-p", "/eos/user/s")) == 1
    # only what is idempotent ran again: reads, the access rule, the saves
    again = {argv[:2] for argv in set(calls) if calls.count(argv) > 1}
    assert again <= {("ns",), ("config", "ls"), ("config", "save"), ("stat", "-d"),
                     ("access", "allow")}  # fmt: skip


def command(argv: Sequence[str]) -> tuple[str, ...]:
    """An `eos` call without the role the script's alias adds."""
    return tuple(argv[3:] if argv[:3] == ["-r", "0", "0"] else argv)
