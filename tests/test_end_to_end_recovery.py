"""A `helm upgrade` that never ended, in the end-to-end world: the machine
loses power (everything mboxed started is SIGKILLed) while helm upgrades the
release, which stays pending-upgrade; `mboxed plan` names the recovery and the
next `mboxed up` converges.

The cluster is the API stand-in taken as an existing cluster (provider
existing): no minikube, no Docker engine, no /etc/hosts, so this test touches
nothing of the host. Root only all the same: the ingress answers on
127.0.0.2:443, where the verify step's smoke test goes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.end_to_end_world import (
    HELM_READS,
    EndToEnd,
    end_to_end,
    existing_cluster,
    host_ready,
    mutating,
)

HOSTNAME = "box.example.org"
INGRESS_IP = "127.0.0.2"  # not 127.0.0.1:443, which the other end-to-end test uses
OVERRIDES = ("provider.name=existing", "provider.context=prod", f"hostname={HOSTNAME}")


WHY_NOT = host_ready(
    tools=("kubectl", "dpkg-query"),
    ingress_ip=INGRESS_IP,
    root_because=f"the ingress answers on {INGRESS_IP}:443",
)
pytestmark = [pytest.mark.timeout(240), pytest.mark.skipif(bool(WHY_NOT), reason=WHY_NOT or "-")]


def kill_session(session: int) -> None:
    """SIGKILL every process of a session: a power loss, for what mboxed
    started (helm runs in a process group of its own, in mboxed's session)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getsid(int(entry.name)) == session:
                os.kill(int(entry.name), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue


def wait_for(
    world: EndToEnd, revisions: list[str], running: subprocess.Popen[str], seconds: float
) -> None:
    deadline = time.monotonic() + seconds
    while world.revisions() != revisions:
        assert running.poll() is None, "mboxed up ended before helm hung"
        assert time.monotonic() < deadline, f"helm history: {world.revisions()}"
        time.sleep(0.1)


def test_a_helm_upgrade_killed_midway_is_rolled_back_by_the_next_up(tmp_path: Path) -> None:
    with end_to_end(tmp_path, "ci", extra_env={}) as world:
        try:
            run_recovery(world)
        except BaseException:
            print("\n".join(world.output))
            world.mboxed("down", check=False)
            raise


def run_recovery(world: EndToEnd) -> None:
    existing_cluster(world, context="prod", ingress_ip=INGRESS_IP)
    mirror = ("--mirror", world.registry.url)

    # --- 1. up: the release is deployed at revision 1 ----------------------------------
    results, out = world.up("ci", *OVERRIDES)
    outcomes = {r.name: r.outcome for r in results}
    reasons = {r.name: r.plan.reason for r in results if r.plan is not None}
    # nothing of the host: no Docker engine, no minikube, no /etc/hosts line
    assert outcomes["docker"] == "skipped", out
    assert reasons["docker"].startswith("provider existing"), out
    assert world.calls("minikube") == []
    assert not world.state()["steps"]["cluster"].get("journal")  # no hosts line, no cluster
    assert outcomes["sciencebox"] == "done", out
    assert outcomes["verify"] in ("done", "skipped"), out
    assert world.revisions() == ["deployed"]

    # --- 2. an up that changes the values; power is lost while helm upgrades ----------
    changed = ("--set", "sciencebox.values.mboxedProbe=after")
    running = world.start_mboxed(
        "up",
        "--yes",
        *mirror,
        *changed,
        env={"MBOXED_FAKE_HELM_UPGRADE": "hang", "MBOXED_FAKE_HELM_HANG_SECONDS": "120"},
    )
    try:
        wait_for(world, ["deployed", "pending-upgrade"], running, 90)
    finally:
        kill_session(running.pid)
        output, _ = running.communicate(timeout=30)
        world.output.append(output)
    assert running.returncode == -signal.SIGKILL
    time.sleep(0.5)  # nothing left to write the state: it stays as the power loss left it
    assert world.revisions() == ["deployed", "pending-upgrade"]

    # --- 3. plan names the recovery, and changes nothing ----------------------------------
    helm_before = len(world.calls("helm"))
    planned = json.loads(world.mboxed("plan", "--json", *mirror, *changed).stdout)
    (sciencebox,) = [s for s in planned["steps"] if s["step"] == "sciencebox"]
    assert sciencebox["outcome"] == "planned", sciencebox
    rollback, upgrade = sciencebox["actions"]
    assert rollback.startswith(
        "roll back release sciencebox in namespace default to revision 1, the last deployed "
        "one: revision 2 is pending-upgrade (Preparing upgrade)"
    ), rollback
    assert upgrade.startswith("upgrade release sciencebox in namespace default: revision 2 ")
    assert mutating(world.calls("helm")[helm_before:], HELM_READS) == []
    assert world.revisions() == ["deployed", "pending-upgrade"]

    # --- 4. up recovers: rollback to 1, then the upgrade; converged --------------------
    recovered = world.mboxed("up", "--yes", *mirror, *changed)
    assert "✓ sciencebox: 2 action(s)" in recovered.stdout, recovered.stdout
    helm_writes = mutating(world.calls("helm")[helm_before:], HELM_READS)
    assert [c[1] for c in helm_writes] == ["rollback", "upgrade"]
    assert helm_writes[0][2:4] == ["sciencebox", "1"]
    assert world.revisions() == ["superseded", "pending-upgrade", "superseded", "deployed"]
    last = world.tool("helm")["releases"]["default/sciencebox"][-1]
    assert last["config"]["mboxedProbe"] == "after"
    assert world.state()["steps"]["sciencebox"]["outputs"]["revision"] == 4

    # --- 5. and stays so ---------------------------------------------------------------
    again = world.mboxed("up", "--yes", *mirror, *changed)
    assert "  ↷ sciencebox:" in again.stdout and "✓" not in again.stdout, again.stdout
    world.mboxed("down")
    assert world.tool("helm")["releases"] == {}
    assert world.api.objects("Node")  # the existing cluster is left as it was
