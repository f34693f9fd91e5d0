"""Step `cluster` per provider, through the real engine, against the
minikube/kind stand-ins and the Kubernetes API stand-in: plan on a fresh
world, apply (converges), apply again (nothing run); stop → start → up;
down reverts exactly the journal; reconcile instead of clobbering."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from mboxed import hostname as hn
from mboxed.contract import Options
from mboxed.errors import MboxedError, ProfileError
from mboxed.hostname import corefile_has
from mboxed.providers import ClusterStatus, host_port_free
from mboxed.providers import kind as kind_module
from mboxed.providers import minikube as minikube_module
from mboxed.providers.cluster_plan import ClusterFacts, plan_cluster
from mboxed.providers.minikube import MinikubeProvider
from mboxed.providers.service import make_provider
from tests.fakes.kube_api import load_object
from tests.providers.world import World, make_world

AS_ROOT = os.geteuid() == 0
# As root, minikube's docker driver needs --force; --yes agrees to pass it.
YES = Options(yes=True)


def corefile(world: World) -> str:
    cm = world.api.get("ConfigMap", "coredns", "kube-system")
    assert cm is not None
    return str(cm["data"]["Corefile"])


# --- minikube -----------------------------------------------------------------------


def test_minikube_three_way(tmp_path: Path) -> None:
    with make_world(tmp_path, options=Options(yes=True)) as world:
        planned = world.plan()
        assert planned.outcome == "planned"
        assert planned.plan is not None
        assert planned.plan.actions[0].summary.startswith("create minikube cluster 'mboxed'")
        assert world.mutating_calls("minikube") == []  # the dry run changed nothing
        assert not world.kubeconfig.exists()

        done = world.up()
        assert done.outcome == "done"
        starts = [c for c in world.calls("minikube") if c[1] == "start"]
        expected = [
            "minikube",
            "start",
            "-p",
            "mboxed",
            "--driver=docker",
            "--cpus=4",
            "--memory=8192mb",
            "--disk-size=40960mb",
            "--kubernetes-version=v1.31.0",
            "--wait=apiserver,system_pods,node_ready",
            "--output=json",
        ]
        if host_port_free(80) and host_port_free(443):
            expected += ["--ports=80:80", "--ports=443:443"]
        assert starts == [[*expected, "--force"] if AS_ROOT else expected]
        assert ["minikube", "addons", "enable", "ingress", "-p", "mboxed"] in world.calls(
            "minikube"
        )
        out = world.outputs()
        assert out["provider"] == "minikube"
        assert out["context"] == "mboxed"
        assert out["kubeconfig"] == str(world.kubeconfig)
        assert out["ingress_address"] == "192.168.49.2"
        assert out["hostname"] == "mboxed.test"
        assert out["https_port"] == 443
        assert out["created_by_mboxed"] is True
        assert "192.168.49.2 mboxed.test  # mboxed" in world.hosts.read_text()
        assert corefile_has(corefile(world), "192.168.49.2", "mboxed.test")

        before = len(world.calls("minikube"))
        again = world.up()
        assert again.outcome == "skipped"
        assert again.plan is not None and "running" in again.plan.reason
        assert world.mutating_calls("minikube")[before:] == []
        assert world.hosts.read_text().count("mboxed.test") == 1


@pytest.mark.skipif(not AS_ROOT, reason="minikube's root check applies only to root")
def test_minikube_as_root_says_what_the_docker_driver_needs(tmp_path: Path) -> None:
    with make_world(tmp_path) as world:  # no --yes, no --force, no TTY
        with pytest.raises(MboxedError) as err:
            world.up()
        assert "DRV_AS_ROOT" in err.value.message
        assert "--force" in err.value.hint
        assert [c for c in world.calls("minikube") if c[1] == "start"] == []


def test_stop_start_up_converges(tmp_path: Path) -> None:
    with make_world(tmp_path, options=Options(yes=True)) as world:
        world.up()
        provider = make_provider(world.ctx, allow_root=True)
        assert isinstance(provider, MinikubeProvider)
        provider.stop(lambda _: None)
        assert provider.status().state == "Stopped"
        planned = world.plan()
        assert planned.plan is not None
        assert planned.plan.actions[0].kind == "start"
        assert world.up().outcome == "done"
        assert provider.status().running
        assert world.up().outcome == "skipped"
        starts = [c for c in world.calls("minikube") if c[1] == "start"]
        assert starts[-1][:4] == ["minikube", "start", "-p", "mboxed"]
        assert len(starts) == 2  # created once, started once


def test_down_reverts_exactly_the_journal(tmp_path: Path) -> None:
    with make_world(tmp_path, options=Options(yes=True)) as world:
        world.hosts.write_text(world.hosts.read_text() + "10.0.0.9 other.example  # the user's\n")
        world.up()
        kinds = [e.kind for e in world.ctx.journal("cluster")]
        assert kinds == ["cluster_created", "line_added", "coredns_entry"]
        world.down()
        assert ["minikube", "delete", "-p", "mboxed"] in world.calls("minikube")
        assert "mboxed.test" not in world.hosts.read_text()
        assert "10.0.0.9 other.example  # the user's" in world.hosts.read_text()
        assert world.tool_state("minikube")["profiles"] == {}
        world.down()  # idempotent: nothing left to revert, nothing run
        assert world.calls("minikube").count(["minikube", "delete", "-p", "mboxed"]) == 1


def test_down_never_deletes_a_cluster_mboxed_did_not_create(tmp_path: Path) -> None:
    with make_world(tmp_path, options=Options(yes=True)) as world:
        # The user made the profile themselves, before mboxed ran.
        argv = ["minikube", "start", "-p", "mboxed", "--cpus=4", "--memory=8192mb"]
        argv += ["--disk-size=40960mb", "--kubernetes-version=v1.31.0"]
        world.ctx.shell.run(argv + (["--force"] if AS_ROOT else []))
        done = world.up()
        assert done.outcome == "done"  # reused: only the ingress and the hostname
        assert world.outputs()["created_by_mboxed"] is False
        assert [e.kind for e in world.ctx.journal("cluster")] == ["line_added", "coredns_entry"]
        world.down()
        assert not [c for c in world.calls("minikube") if c[1] == "delete"]
        assert world.tool_state("minikube")["profiles"]["mboxed"]["state"] == "Running"
        assert not corefile_has(corefile(world), "192.168.49.2", "mboxed.test")


def test_a_cluster_with_other_settings_is_a_diff_not_clobbered(tmp_path: Path) -> None:
    with make_world(tmp_path, options=Options(yes=True)) as world:
        world.up()
        world.set_profile("provider.cpus=6")
        planned = world.plan()
        assert planned.plan is not None
        first = planned.plan.actions[0]
        assert first.kind == "recreate"
        assert "cpus: 4 → 6" in first.summary
        world.ctx.options = Options()  # no --yes, no --force, no TTY: refuse
        with pytest.raises(MboxedError) as err:
            world.up()
        assert "cpus: 4 → 6" in err.value.message
        assert "--force" in err.value.hint
        assert not [c for c in world.calls("minikube") if c[1] == "delete"]
        world.ctx.options = Options(force=True)
        assert world.up().outcome == "done"
        assert ["minikube", "delete", "-p", "mboxed"] in world.calls("minikube")
        assert world.tool_state("minikube")["profiles"]["mboxed"]["cpus"] == 6


def test_an_unowned_cluster_with_other_settings_is_never_recreated(tmp_path: Path) -> None:
    with make_world(tmp_path, options=Options(force=True)) as world:
        argv = ["minikube", "start", "-p", "mboxed", "--cpus=2", "--memory=4096mb"]
        world.ctx.shell.run(argv + (["--force"] if AS_ROOT else []))
        with pytest.raises(MboxedError) as err:
            world.up()
        assert "did not create it" in err.value.message
        assert not [c for c in world.calls("minikube") if c[1] == "delete"]


# --- kind ---------------------------------------------------------------------------


def test_kind_three_way(tmp_path: Path) -> None:
    with make_world(tmp_path, "provider.name=kind") as world:
        planned = world.plan()
        assert planned.plan is not None
        summary = planned.plan.actions[0].summary
        assert summary.startswith("create kind cluster 'mboxed' from kindest/node:v1.31.0@sha256:")
        assert world.mutating_calls("kind") == []

        assert world.up().outcome == "done"
        creates = [c for c in world.calls("kind") if c[1:3] == ["create", "cluster"]]
        config = world.ctx.paths.deployment_dir("default") / "kind-mboxed.yaml"
        assert creates == [
            [
                "kind",
                "create",
                "cluster",
                "--name",
                "mboxed",
                "--config",
                str(config),
                "--wait",
                "5m",
            ]
        ]
        parsed = yaml.safe_load(config.read_text())
        assert parsed["apiVersion"] == "kind.x-k8s.io/v1alpha4"
        # The ingress-nginx manifest came from the mirror and was applied.
        assert world.api.get("Deployment", "ingress-nginx-controller", "ingress-nginx")
        assert world.api.get("IngressClass", "nginx")
        out = world.outputs()
        assert out["context"] == "kind-mboxed"
        assert out["ingress_address"] == "172.18.0.2"  # the ingress-ready node's InternalIP
        assert out["created_by_mboxed"] is True

        before = len(world.calls("kind"))
        assert world.up().outcome == "skipped"
        assert world.mutating_calls("kind")[before:] == []


def test_kind_create_twice_fails_like_the_real_one(tmp_path: Path) -> None:
    with make_world(tmp_path, "provider.name=kind") as world:
        world.ctx.shell.run(["kind", "create", "cluster", "--name", "x"])
        result = world.ctx.shell.run(["kind", "create", "cluster", "--name", "x"], check=False)
        assert result.returncode == 1
        assert 'node(s) already exist for a cluster with the name "x"' in result.stderr


def test_kind_stop_start_and_down(tmp_path: Path) -> None:
    with make_world(tmp_path, "provider.name=kind") as world:
        world.up()
        provider = make_provider(world.ctx)
        provider.stop(lambda _: None)
        assert ["docker", "stop", "mboxed-control-plane"] in world.calls("kind")
        assert provider.status().state == "Stopped"
        assert world.up().outcome == "done"
        assert ["docker", "start", "mboxed-control-plane"] in world.calls("kind")
        assert world.up().outcome == "skipped"
        world.down()
        assert ["kind", "delete", "cluster", "--name", "mboxed"] in world.calls("kind")
        assert world.tool_state("kind")["clusters"] == {}
        assert "mboxed.test" not in world.hosts.read_text()


def kind_on_docker_desktop_with_80_443_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    choose = kind_module.choose_host_ports
    monkeypatch.setattr(
        kind_module, "choose_host_ports", lambda _free: choose(lambda p: p not in (80, 443))
    )
    # Docker Desktop, as the kind provider sees it (the rest of the process stays on Linux).
    monkeypatch.setattr(kind_module, "sys", SimpleNamespace(platform="darwin"))


def test_kind_keeps_the_host_ports_it_published_the_ingress_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 80/443 are taken when the cluster is created: kind publishes the ingress
    # on 8080/8443. Off Linux (Docker Desktop) the host reaches it only there,
    # on this run and on every later one: only creating the cluster chooses them.
    kind_on_docker_desktop_with_80_443_taken(monkeypatch)
    with make_world(tmp_path, "provider.name=kind") as world:
        assert world.up().outcome == "done"
        published = {"host_http_port": 8080, "host_https_port": 8443, "https_port": 8443}
        assert world.outputs().items() >= published.items()
        again = world.up()
        assert again.outcome == "skipped"
        assert again.plan is not None and again.plan.reason.endswith("https://mboxed.test:8443")
        assert world.outputs().items() >= published.items()
        make_provider(world.ctx).stop(lambda _: None)
        assert world.up().outcome == "done"  # started again, same containers, same ports
        assert world.outputs().items() >= published.items()
        creates = [c for c in world.calls("kind") if c[1:3] == ["create", "cluster"]]
        assert len(creates) == 1


def test_kind_host_ports_survive_a_first_up_that_failed_after_creating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first up dies after `kind create cluster` (here: installing the
    # ingress), so its outputs — host ports included — are never saved. The
    # next up must still publish https on 8443, where the node really maps it.
    kind_on_docker_desktop_with_80_443_taken(monkeypatch)
    real = kind_module.KindProvider.ensure_ingress

    def dies(self: kind_module.KindProvider, client: object, progress: object) -> None:
        raise MboxedError("interrupted while installing the ingress")

    monkeypatch.setattr(kind_module.KindProvider, "ensure_ingress", dies)
    with make_world(tmp_path, "provider.name=kind") as world:
        with pytest.raises(MboxedError):
            world.up()
        assert "host_https_port" not in world.outputs()
        monkeypatch.setattr(kind_module.KindProvider, "ensure_ingress", real)
        assert world.up().outcome == "done"
        assert world.outputs()["https_port"] == 8443
        assert world.outputs()["host_https_port"] == 8443


def ingress_cluster_ip(world: World) -> str:
    svc = world.api.get("Service", "ingress-nginx-controller", "ingress-nginx")
    assert svc is not None
    return str(svc["spec"]["clusterIP"])


def test_minikube_on_docker_desktop_publishes_the_ingress_and_points_pods_at_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """macOS, docker driver: the node IP is not routable from the Mac, so the
    ingress is published on host ports (--ports) and reached at 127.0.0.1;
    inside pods 127.0.0.1 is the pod, so CoreDNS sends the name to the ingress
    controller's ClusterIP. up, stop/start and down all keep to that."""
    monkeypatch.setattr(minikube_module, "sys", SimpleNamespace(platform="darwin"))
    with make_world(tmp_path, options=Options(yes=True)) as world:
        assert world.up().outcome == "done"
        start = next(c for c in world.calls("minikube") if c[1] == "start")
        published = {p for p in start if p.startswith("--ports=")}
        assert {p.rsplit(":", 1)[1] for p in published} == {"80", "443"}
        out = world.outputs()
        assert out["ingress_address"] == "127.0.0.1" and out["hostname"] == "mboxed.test"
        assert hn.hosts_has(world.hosts.read_text(), "127.0.0.1", "mboxed.test")
        service_ip = ingress_cluster_ip(world)
        assert corefile_has(corefile(world), service_ip, "mboxed.test")
        assert not corefile_has(corefile(world), "127.0.0.1", "mboxed.test")
        assert world.up().outcome == "skipped"

        make_provider(world.ctx).stop(lambda _: None)
        assert world.up().outcome == "done"  # started again: same ports, same name
        assert world.outputs()["https_port"] == out["https_port"]
        assert world.up().outcome == "skipped"
        world.down()
        assert world.tool_state("minikube")["profiles"] == {}
        assert "mboxed.test" not in world.hosts.read_text()


def test_a_paused_minikube_cluster_is_unpaused(tmp_path: Path) -> None:
    with make_world(tmp_path, options=Options(yes=True)) as world:
        world.up()
        world.ctx.shell.run(["minikube", "pause", "-A", "-p", "mboxed"])
        planned = world.plan()
        assert planned.plan is not None
        assert planned.plan.actions[0].summary == "unpause minikube cluster 'mboxed' (Paused)"
        assert world.up().outcome == "done"
        assert world.tool_state("minikube")["profiles"]["mboxed"]["paused"] == []
        assert world.up().outcome == "skipped"


# --- existing -----------------------------------------------------------------------


def test_existing_three_way_creates_nothing_cluster_wide(tmp_path: Path) -> None:
    overrides = ("provider.name=existing", "provider.context=prod", "hostname=box.example.org")
    with make_world(tmp_path, *overrides) as world:
        world.api.write_kubeconfig(world.kubeconfig, context="prod")
        for name in ("node-kind-ready.json", "ingressclass-nginx.json"):
            world.api.add(load_object(name))
        before = {k: list(v) for k, v in world.api.store.items()}
        planned = world.plan()
        assert planned.outcome == "skipped"
        assert world.up().outcome == "skipped"
        out = world.outputs()
        assert out["provider"] == "existing"
        assert out["context"] == "prod"
        assert out["hostname"] == "box.example.org"
        assert out["created_by_mboxed"] is False
        assert {k: list(v) for k, v in world.api.store.items()} == before
        assert [m for m, _ in world.api.requests if m != "GET" and m != "POST"] == []
        posts = [p for m, p in world.api.requests if m == "POST"]
        assert posts and all("selfsubjectaccessreviews" in p for p in posts)
        world.down()  # nothing journaled: nothing touched
        assert world.api.objects("Node")


def test_existing_missing_context_is_named(tmp_path: Path) -> None:
    overrides = ("provider.name=existing", "provider.context=no-such-context")
    with make_world(tmp_path, *overrides) as world:
        world.api.write_kubeconfig(world.kubeconfig, context="prod")
        with pytest.raises(ProfileError) as err:
            world.plan()
        assert "'no-such-context'" in err.value.message
        assert "prod" in err.value.hint


def test_existing_without_permissions_or_ingress_class_fails_clearly(tmp_path: Path) -> None:
    overrides = ("provider.name=existing", "provider.context=prod")
    with make_world(tmp_path, *overrides) as world:
        world.api.write_kubeconfig(world.kubeconfig, context="prod")
        world.api.add(load_object("node-kind-ready.json"))
        world.api.access = lambda attrs: attrs.get("resource") != "daemonsets"
        with pytest.raises(MboxedError) as err:
            world.up()
        assert "create daemonsets.apps in namespace default" in err.value.message
        world.api.access = lambda attrs: True
        with pytest.raises(MboxedError) as err:
            world.up()
        assert "no IngressClass" in err.value.message
        assert world.api.objects("IngressClass") == []


# --- the plan as a table --------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "kinds"),
    [
        (
            ClusterFacts("minikube", "mboxed", tool_missing="minikube"),
            ["create", "ingress", "hostname"],
        ),
        (
            ClusterFacts("minikube", "mboxed", status=ClusterStatus.absent()),
            ["create", "ingress", "hostname"],
        ),
        (
            ClusterFacts("minikube", "mboxed", status=ClusterStatus(True, False, "Stopped")),
            ["start", "ingress", "hostname"],
        ),
        (
            ClusterFacts(
                "minikube",
                "mboxed",
                status=ClusterStatus(True, True, "Running"),
                diff=["cpus: 2 → 4"],
            ),
            ["recreate", "ingress", "hostname"],
        ),
        (
            ClusterFacts(
                "minikube",
                "mboxed",
                status=ClusterStatus(True, True, "Running"),
                nodes_ready=True,
                ingress_ready=False,
            ),
            ["ingress"],
        ),
    ],
)
def test_plan_table(tmp_path: Path, facts: ClusterFacts, kinds: list[str]) -> None:
    with make_world(tmp_path) as world:
        plan = plan_cluster(facts, make_provider(world.ctx))
        assert [a.kind for a in plan.actions] == kinds


@pytest.mark.parametrize("provider", ["minikube", "kind"])
def test_a_lost_kube_context_is_written_again(tmp_path: Path, provider: str) -> None:
    with make_world(tmp_path, f"provider.name={provider}", options=Options(yes=True)) as world:
        world.up()
        world.kubeconfig.unlink()  # the user replaced their kubeconfig
        planned = world.plan()
        assert planned.plan is not None
        assert planned.plan.actions[0].kind == "context"
        assert world.up().outcome == "done"
        restore = ["minikube", "update-context", "-p", "mboxed"]
        if provider == "kind":
            restore = ["kind", "export", "kubeconfig", "--name", "mboxed"]
        assert restore in world.calls(provider)
        assert world.up().outcome == "skipped"


def test_a_half_made_cluster_is_journaled_and_down_deletes_it(tmp_path: Path) -> None:
    env = {"MBOXED_FAKE_MINIKUBE_FAIL_START": "1"}
    with make_world(tmp_path, env=env, options=Options(yes=True)) as world:
        with pytest.raises(MboxedError) as err:
            world.up()
        assert "GUEST_PROVISION" in str(err.value)
        assert "mboxed" in world.tool_state("minikube")["profiles"]  # left behind
        assert [e.kind for e in world.ctx.journal("cluster")] == ["cluster_created"]
        world.down()
        assert world.tool_state("minikube")["profiles"] == {}


def test_existing_cluster_dns_is_never_edited_for_auto_hostnames(tmp_path: Path) -> None:
    overrides = ("provider.name=existing", "provider.context=prod")  # hostname: auto, offline
    with make_world(tmp_path, *overrides) as world:
        world.api.write_kubeconfig(world.kubeconfig, context="prod")
        for name in ("node-kind-ready.json", "ingressclass-nginx.json"):
            world.api.add(load_object(name))
        world.api.add(load_object("configmap-coredns-kubeadm.json"))
        with pytest.raises(ProfileError) as err:
            world.up()
        assert "does not edit that cluster's DNS" in err.value.message
        assert "--set hostname=" in err.value.hint
        assert not [m for m, _ in world.api.requests if m in ("PATCH", "PUT")]
        assert "mboxed.test" not in world.hosts.read_text()
