"""Hostname choice, /etc/hosts lines and the CoreDNS `hosts` entry."""

from __future__ import annotations

import pytest

from mboxed import hostname as hn
from mboxed.errors import Deferred
from mboxed.hostname import (
    choose,
    corefile_add,
    corefile_has,
    corefile_remove,
    hosts_conflicts,
    hosts_has,
    hosts_line,
    local_name,
    resolve_hostname,
    wildcard_name,
)
from tests.fakes.kube_api import load_object


def test_wildcard_name_embeds_the_ip() -> None:
    assert wildcard_name("192.168.49.2") == "192-168-49-2.nip.io"
    assert wildcard_name("fd00::1") == "fd00--1.nip.io"


def test_resolve_hostname_explicit_or_the_cluster_steps_choice() -> None:
    assert resolve_hostname("box.example.org", None) == "box.example.org"
    assert resolve_hostname("box.example.org", "mboxed.test") == "box.example.org"
    assert resolve_hostname("auto", "192-168-49-2.nip.io") == "192-168-49-2.nip.io"
    with pytest.raises(Deferred) as deferred:
        resolve_hostname("auto", None)
    assert deferred.value.after == "cluster"


def test_choice_explicit_online_offline() -> None:
    never = lambda name, ip: False  # noqa: E731
    always = lambda name, ip: True  # noqa: E731
    assert choose("box.example.org", "10.0.0.1", "default", is_offline=False).mode == "explicit"
    online = choose("auto", "192.168.49.2", "default", is_offline=False, resolver=always)
    assert (online.fqdn, online.mode, online.hosts_entry) == (
        "192-168-49-2.nip.io",
        "wildcard",
        False,
    )
    # online, but the name does not resolve here (DNS rebinding protection): local
    blocked = choose("auto", "192.168.49.2", "default", is_offline=False, resolver=never)
    assert (blocked.fqdn, blocked.mode, blocked.hosts_entry) == ("mboxed.test", "local", True)
    offline = choose("auto", "192.168.49.2", "ws", is_offline=True, resolver=always)
    assert offline.fqdn == "ws.mboxed.test" == local_name("ws")


def test_hosts_file_matching() -> None:
    text = "127.0.0.1 localhost\n192.168.49.2 mboxed.test other  # mboxed\n"
    assert hosts_has(text, "192.168.49.2", "mboxed.test")
    assert not hosts_has(text, "192.168.49.3", "mboxed.test")
    assert not hosts_has("# 192.168.49.2 mboxed.test\n", "192.168.49.2", "mboxed.test")
    assert hosts_conflicts(text, "10.0.0.1", "mboxed.test") == [text.splitlines()[1]]
    assert hosts_line("1.2.3.4", "a.test") == "1.2.3.4 a.test  # mboxed"


def test_corefile_entry_in_kubeadm_corefile() -> None:
    corefile = load_object("configmap-coredns-kubeadm.json")["data"]["Corefile"]
    added = corefile_add(corefile, "172.18.0.2", "mboxed.test")
    assert corefile_has(added, "172.18.0.2", "mboxed.test")
    assert "    hosts {\n       172.18.0.2 mboxed.test\n       fallthrough\n    }\n" in added
    assert added.index("hosts {") < added.index("forward .")
    assert corefile_add(added, "172.18.0.2", "mboxed.test") == added  # idempotent
    removed = corefile_remove(added, "172.18.0.2", "mboxed.test")
    assert not corefile_has(removed, "172.18.0.2", "mboxed.test")


def test_corefile_entry_joins_minikubes_hosts_block() -> None:
    corefile = load_object("configmap-coredns-minikube.json")["data"]["Corefile"]
    added = corefile_add(corefile, "192.168.49.2", "mboxed.test")
    assert added.count("hosts {") == 1
    assert corefile_has(added, "192.168.49.2", "mboxed.test")
    assert corefile_has(added, "192.168.49.1", "host.minikube.internal")
    assert corefile_remove(added, "192.168.49.2", "mboxed.test") == corefile


def test_a_loopback_ingress_needs_a_cluster_dns_entry_for_pods() -> None:
    """127.0.0.1 (published ports on Docker Desktop) is the pod itself inside
    a pod: a wildcard name pointing there needs CoreDNS too; a name that
    points at a routable node IP does not; a local name always does."""
    wildcard = hn.HostnameChoice("127-0-0-1.nip.io", "wildcard", False)
    assert hn.needs_cluster_dns(wildcard, "127.0.0.1")
    assert not hn.needs_cluster_dns(
        hn.HostnameChoice("172-18-0-2.nip.io", "wildcard", False), "172.18.0.2"
    )
    assert hn.needs_cluster_dns(hn.HostnameChoice("mboxed.test", "local", True), "172.18.0.2")
    assert not hn.needs_cluster_dns(hn.HostnameChoice("box.example.org", "explicit", False), "::1")
    assert hn.in_cluster_address("172.18.0.2", client=None) == "172.18.0.2"
    refusal = hn.existing_dns_refusal(wildcard, "127.0.0.1", "docker-desktop")
    assert "inside pods is the pod itself" in refusal.message
