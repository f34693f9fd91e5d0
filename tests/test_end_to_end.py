"""The whole pipeline, composed, the way a user runs it:

    mboxed up --yes --mirror REGISTRY --profile ...   (fresh state: all 16 steps)
    mboxed verify ; mboxed status
    mboxed up                                         (nothing to do, nothing run)
    mboxed stop ; mboxed start --yes
    mboxed down                                       (everything reverted)
    mboxed down ; mboxed up ; mboxed down             (idempotent; starts over)

against the stand-ins (minikube, helm, the Kubernetes API) and real loopback
services (docker-registry, an HTTPS ingress with mboxed's certificate, dockerd
when none runs) — see tests/end_to_end_world.py. Root only: the host steps run
for real (preflight, packages via dpkg, docker, the tools found on PATH, and
/etc/hosts for `hostname: auto` offline).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mboxed.docker_engine import (
    DEFAULT_PIDFILE,
    DEFAULT_SOCKET,
    daemons_serving,
    probe_docker,
    stop_daemon,
)
from mboxed.shell import Shell
from mboxed.steps import PIPELINE
from tests.end_to_end_world import HELM_READS, EndToEnd, end_to_end, host_ready, mutating

STEPS = [name for name, _ in PIPELINE]
HOSTS = Path("/etc/hosts")
WHY_NOT = host_ready()

pytestmark = [
    pytest.mark.host,
    pytest.mark.timeout(240),
    pytest.mark.skipif(bool(WHY_NOT), reason=WHY_NOT or "-"),
]

# `mboxed plan` before anything exists: the host steps read the host, the
# cluster step plans its creation, the steps after it wait for it.
PLAN_ON_A_FRESH_STATE = {
    "preflight": "skipped",
    "packages": "skipped",
    "docker": "planned",
    "kubectl": "skipped",
    "helm": "skipped",
    "minikube": "skipped",
    "kind": "skipped",
    "cluster": "planned",
    "chart": "planned",
    "images": "deferred",
    "web-assets": "deferred",
    "secrets": "planned",
    "tls": "planned",
    "users": "planned",
    "sciencebox": "deferred",
    "ready": "deferred",
    "verify": "deferred",
    "summary": "deferred",
}

# What may run on a deployment that is up: reads only.
MINIKUBE_READS = (["version"], ["status"], ["profile", "list"], ["ip"], ["docker-env"])


@pytest.fixture
def hosts_file() -> Iterator[bytes]:
    """/etc/hosts as it was; put back byte for byte whatever happens."""
    before = HOSTS.read_bytes()
    try:
        yield before
    finally:
        if HOSTS.read_bytes() != before:
            HOSTS.write_bytes(before)


def system_dockerds() -> tuple[int, ...]:
    """The dockerds serving the system socket: the engine `up` starts and
    `down` stops (a test's private engine on a socket of its own is not it)."""
    return daemons_serving(DEFAULT_SOCKET)


@pytest.fixture
def dockerd() -> Iterator[bool]:
    """Whether an engine ran before; one the test's `up` started is stopped
    even when `down` never ran."""
    already = probe_docker(Shell(env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})).reachable
    pids_before = set(system_dockerds())
    yield already
    for pid in set(system_dockerds()) - pids_before:
        stop_daemon(Shell(), pid, Path(DEFAULT_PIDFILE))


def outcomes(results: list[Any]) -> dict[str, str]:
    return {r.name: r.outcome for r in results}


def journals(world: EndToEnd) -> dict[str, list[Any]]:
    return {name: rec.get("journal") or [] for name, rec in world.state()["steps"].items()}


def corefile(world: EndToEnd) -> str:
    configmap = world.api.get("ConfigMap", "coredns", "kube-system") or {}
    return str((configmap.get("data") or {}).get("Corefile", ""))


def run_everything(
    world: EndToEnd,
    profile: str,
    overrides: tuple[str, ...],
    hostname: str,
    hosts_before: bytes,
    docker_was_running: bool,
) -> None:
    # `hostname: auto` offline: a .test name, a journaled /etc/hosts line and a
    # CoreDNS entry; an explicit FQDN: its DNS is the user's, nothing is added.
    local = hostname == "mboxed.test"
    hosts_line = "127.0.0.1 mboxed.test  # mboxed"

    # The ingress answers on 127.0.0.1 (the minikube stand-in's IP); in a pod
    # that is the pod itself, so CoreDNS points the name at the ingress
    # controller Service's ClusterIP instead (mboxed/hostname.py).
    def dns_entry() -> str:
        svc = world.api.get("Service", "ingress-nginx-controller", "ingress-nginx") or {}
        return f"{(svc.get('spec') or {}).get('clusterIP')} mboxed.test"

    # --- 0. plan on a fresh state: every step's plan, nothing changed ------------
    sets = [arg for pair in overrides for arg in ("--set", pair)]
    planned = json.loads(
        world.mboxed(
            "plan", "--json", "--profile", profile, *sets, "--mirror", world.registry.url
        ).stdout
    )
    plan_outcomes = {s["step"]: s["outcome"] for s in planned["steps"]}
    assert list(plan_outcomes) == STEPS
    expected = PLAN_ON_A_FRESH_STATE | (
        # hostname auto is known only once the cluster is (an explicit one at once)
        {"tls": "deferred"} if local else {}
    )
    if docker_was_running:
        expected["docker"] = "skipped"
    assert plan_outcomes == expected, planned
    assert mutating(world.calls("minikube"), MINIKUBE_READS) == []
    assert world.calls("helm") == [] or mutating(world.calls("helm"), HELM_READS) == []
    assert [r for r in world.api.requests if r[0] != "GET"] == []
    assert not (world.root / "mboxed-home" / "state" / "default" / "state.yaml").exists()
    assert HOSTS.read_bytes() == hosts_before

    # --- 1. up from a fresh state: every step, in order --------------------------
    results, out = world.up(profile, *overrides)
    assert [r.name for r in results] == STEPS, out
    got = outcomes(results)
    reasons = {r.name: r.plan.reason for r in results if r.plan is not None}
    # Already so on this host: preflight only reads; the packages are there
    # (.ci/run); kubectl is the system's, helm and minikube are the stand-ins,
    # found on PATH at acceptable versions; kind is not needed with minikube.
    for step in ("preflight", "packages", "kubectl", "helm", "minikube", "kind"):
        assert got[step] == "skipped", (step, out)
    assert reasons["kubectl"].startswith("kubectl v1.") and "/usr/bin/kubectl" in reasons["kubectl"]
    assert reasons["kind"] == "not needed: the cluster provider is minikube"
    assert got["docker"] == ("skipped" if docker_was_running else "done"), out
    for step in ("cluster", "chart", "web-assets", "secrets", "tls", "users", "sciencebox"):
        assert got[step] == "done", (step, out)
    # Found so when their turn comes: the API stand-in's controllers report the
    # workloads ready as helm creates them, the ingress serves since the tls
    # step, and summary only reports.
    assert got["ready"] == "skipped", out
    assert reasons["ready"] == "all 3 workloads of release sciencebox are ready"
    assert got["verify"] == "skipped", out
    assert reasons["verify"].startswith("smoke test passes")
    assert got["summary"] == "skipped", out

    outputs = {name: rec.get("outputs") or {} for name, rec in world.state()["steps"].items()}
    assert outputs["kubectl"]["path"] == "/usr/bin/kubectl"
    assert Path(outputs["helm"]["path"]).name == "helm"
    assert {k: outputs["cluster"][k] for k in ("hostname", "ingress_address", "https_port")} == {
        "hostname": hostname,
        "ingress_address": "127.0.0.1",
        "https_port": 443,
    }
    assert outputs["cluster"]["created_by_mboxed"] is True
    assert outputs["tls"]["hostname"] == hostname
    assert outputs["chart"]["version"] == "0.0.8"
    assert outputs["sciencebox"]["status"] == "deployed"
    assert outputs["ready"] == {"workloads": 3, "ready": 3}
    # landing, IdP, CERNBox, (SWAN,) einstein's login, and the users never
    # tried before log in too (against what LDAP holds)
    assert outputs["verify"]["summary"] == (
        "6/6 checks passed" if profile == "demo" else "5/5 checks passed"
    )
    assert world.site is not None
    # einstein logged in through the ingress, which saw only the hostname (SNI, Host)
    assert world.site.logons and set(world.site.sni) == {hostname}
    tried = {str(logon["body"]["params"][0]) for logon in world.site.logons}
    assert "einstein" in tried and len(tried) > 1
    assert {h.rsplit(":", 1)[0] for h in world.site.hosts} == {hostname}
    assert list(world.tool("helm")["releases"]) == ["default/sciencebox"]
    assert list(world.tool("minikube")["profiles"]) == ["mboxed"]
    assert f"https://{hostname}/sciencebox" in out
    if local:
        assert HOSTS.read_bytes() == hosts_before + (hosts_line + "\n").encode()
        assert dns_entry() in corefile(world)
    else:
        assert HOSTS.read_bytes() == hosts_before
        assert hostname not in corefile(world)

    # --- 2. verify and status, as commands --------------------------------------
    # the users up tried are not tried again: one check fewer
    rechecked = "5/5 checks passed" if profile == "demo" else "4/4 checks passed"
    verified = world.mboxed("verify")
    assert verified.stdout.splitlines()[-1] == rechecked
    status = json.loads(world.mboxed("status", "--json").stdout)
    assert {s["step"]: s["status"] for s in status["steps"]} == dict.fromkeys(STEPS, "done")
    assert status["last_run"]["result"] == "ok"
    assert status["drift"] == []
    assert status["cluster"]["state"] == "Running"
    assert status["urls"]["landing"] == f"https://{hostname}/sciencebox"

    # --- 3. a second up changes nothing: every step skipped, nothing run ----------
    journal_before = journals(world)
    minikube_before = len(world.calls("minikube"))
    helm_before = len(world.calls("helm"))
    requests_before = len(world.api.requests)
    logons_before = len(world.site.logons)
    dockerd_before = system_dockerds()
    again = world.mboxed("up", "--yes", "--mirror", world.registry.url)
    skipped = [line for line in again.stdout.splitlines() if line.startswith("  ↷ ")]
    assert [line.split()[1].rstrip(":") for line in skipped] == STEPS, again.stdout
    assert "✓" not in again.stdout
    # the facts were read for real (the stand-ins and the API were asked) ...
    minikube_calls = world.calls("minikube")[minikube_before:]
    helm_calls = world.calls("helm")[helm_before:]
    requests = world.api.requests[requests_before:]
    assert minikube_calls and helm_calls and requests
    assert len(world.site.logons) > logons_before  # verify's facts: the smoke test
    # ... and nothing was changed
    assert mutating(minikube_calls, MINIKUBE_READS) == []
    assert mutating(helm_calls, HELM_READS) == []
    assert [r for r in requests if r[0] != "GET"] == []
    assert journals(world) == journal_before
    assert system_dockerds() == dockerd_before
    assert world.state()["steps"]["sciencebox"]["outputs"]["revision"] == 1
    assert HOSTS.read_bytes().count(hosts_line.encode()) == (1 if local else 0)

    # --- 4. stop, start --------------------------------------------------------------
    stopped = world.mboxed("stop")
    assert "stopped minikube cluster 'mboxed'" in stopped.stdout
    assert world.tool("minikube")["profiles"]["mboxed"]["state"] == "Stopped"
    assert json.loads(world.mboxed("status", "--json").stdout)["cluster"]["state"] == "Stopped"
    started = world.mboxed("start", "--yes", "--mirror", world.registry.url)
    lines = started.stdout.splitlines()
    assert "  ✓ cluster: 3 action(s)" in " ".join(lines), started.stdout
    assert [line.split()[1].rstrip(":") for line in lines if line.startswith("  ↷ ")] == [
        s for s in STEPS if s != "cluster"
    ], started.stdout
    assert world.tool("minikube")["profiles"]["mboxed"]["state"] == "Running"
    start_calls = [c for c in world.calls("minikube") if c[1:2] == ["start"]]
    assert start_calls[-1] == ["minikube", "start", "-p", "mboxed", "-o", "json", "--force"]
    assert world.tool("helm")["releases"]["default/sciencebox"]  # the release kept
    if local:  # the hostname still resolves, on the host and in the cluster
        assert HOSTS.read_bytes() == hosts_before + (hosts_line + "\n").encode()
        assert dns_entry() in corefile(world)
    assert world.mboxed("verify").stdout.splitlines()[-1] == rechecked

    # --- 5. down reverts everything -------------------------------------------------
    world.mboxed("down")
    assert world.tool("helm")["releases"] == {}
    assert world.calls("helm")[-1][:3] == ["helm", "uninstall", "sciencebox"]
    assert world.api.objects("Deployment", "default") == []
    assert world.tool("minikube")["profiles"] == {}
    assert ["minikube", "delete", "-p", "mboxed"] in world.calls("minikube")
    kubeconfig = json.loads(Path(world.env["KUBECONFIG"]).read_text())
    assert [c["name"] for c in kubeconfig.get("contexts") or []] == []
    final = world.state()
    assert {n: r.get("status") for n, r in final["steps"].items()} == dict.fromkeys(STEPS, "undone")
    assert all(not j for j in journals(world).values())
    assert HOSTS.read_bytes() == hosts_before  # byte for byte
    if not docker_was_running:
        assert system_dockerds() == ()
        assert not probe_docker(Shell(env={"PATH": "/usr/bin:/bin"}), timeout=2).reachable
    values = world.root / "mboxed-home" / "state" / "default" / "sciencebox-values.json"
    assert not values.exists()  # the 0600 values file (secrets) is gone too

    # --- 6. down again reverts nothing; up after down starts over and converges ------
    assert "↺" not in world.mboxed("down").stdout
    world.stop_ingress()  # it went with the cluster
    results, out = world.up(profile, *overrides)
    got = outcomes(results)
    assert [s for s in STEPS if got[s] == "done"] == [
        *([] if docker_was_running else ["docker"]),
        "cluster",
        "tls",
        "sciencebox",
    ], out
    assert got["chart"] == "skipped"  # still in the cache (`down --purge` drops it)
    # the class keeps its passwords and the deployment its secrets (`down --purge` drops them)
    assert got["secrets"] == got["users"] == "skipped"
    assert got["verify"] == "skipped" and world.site is not None and world.site.logons
    assert HOSTS.read_bytes().count(hosts_line.encode()) == (1 if local else 0)
    world.mboxed("down")
    assert all(not j for j in journals(world).values())
    assert world.tool("minikube")["profiles"] == {} and world.tool("helm")["releases"] == {}
    assert HOSTS.read_bytes() == hosts_before


@pytest.mark.parametrize(
    ("profile", "overrides", "env", "hostname"),
    [
        pytest.param(
            "demo",
            (
                "hostname=box.example.org",
                # this CI host's size (the demo wants 4 CPUs, 8 GiB)
                "provider.cpus=2",
                "provider.memory=4g",
                "provider.disk=20g",
            ),
            {},
            "box.example.org",
            id="demo-explicit-hostname",
        ),
        pytest.param(
            "ci", (), {"MBOXED_OFFLINE": "1"}, "mboxed.test", id="ci-hostname-auto-offline"
        ),
    ],
)
def test_up_verify_status_idle_up_stop_start_down(
    tmp_path: Path,
    hosts_file: bytes,
    dockerd: bool,
    profile: str,
    overrides: tuple[str, ...],
    env: dict[str, str],
    hostname: str,
) -> None:
    with end_to_end(tmp_path, profile, extra_env=env) as world:
        try:
            run_everything(world, profile, overrides, hostname, hosts_file, dockerd)
            print("timings: " + ", ".join(f"{what} {secs:.1f}s" for what, secs in world.timings))
        except BaseException:
            print("\n".join(world.output))
            world.mboxed("down", check=False)
            raise
