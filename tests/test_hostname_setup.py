"""mboxed.hostname_setup: keeping the hostname, the hosts-file line, and the
CoreDNS entry against the Kubernetes API stand-in with the real client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mboxed import hostname_setup, kube
from mboxed.errors import MboxedError
from mboxed.shell import Shell
from tests.fakes.kube_api import KubeAPIServer, load_object

EARLIER = {"ingress_address": "10.0.0.1", "hostname": "mboxed.test", "hostname_mode": "local"}


def test_an_earlier_auto_choice_is_kept_while_the_address_is_the_same() -> None:
    kept = hostname_setup.keep_or_choose("auto", EARLIER, "10.0.0.1", "ws", is_offline=True)
    assert (kept.fqdn, kept.mode, kept.hosts_entry) == ("mboxed.test", "local", True)
    moved = hostname_setup.keep_or_choose("auto", EARLIER, "10.0.0.2", "ws", is_offline=True)
    assert moved.fqdn == "ws.mboxed.test"
    explicit = hostname_setup.keep_or_choose(
        "a.example", EARLIER, "10.0.0.1", "ws", is_offline=True
    )
    assert (explicit.fqdn, explicit.mode) == ("a.example", "explicit")


def test_the_hosts_line_is_added_once_and_journaled(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost")  # no newline at the end
    added = hostname_setup.add_hosts_line(hosts, "10.0.0.1", "mboxed.test", Shell())
    line = "10.0.0.1 mboxed.test  # mboxed"
    assert added == {"path": str(hosts), "line": line, "root": False}
    assert hosts.read_text() == f"127.0.0.1 localhost\n{line}\n"
    assert hostname_setup.hosts_file_has(hosts, "10.0.0.1", "mboxed.test")
    assert hostname_setup.add_hosts_line(hosts, "10.0.0.1", "mboxed.test", Shell()) is None
    assert not hostname_setup.hosts_file_has(tmp_path / "absent", "10.0.0.1", "mboxed.test")


def test_a_hosts_file_mapping_the_name_elsewhere_is_left_alone(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("10.9.9.9 mboxed.test\n")
    with pytest.raises(MboxedError, match=r"already maps mboxed\.test elsewhere: 10\.9\.9\.9"):
        hostname_setup.add_hosts_line(hosts, "10.0.0.1", "mboxed.test", Shell())
    assert hosts.read_text() == "10.9.9.9 mboxed.test\n"


class _Recorder:
    """Records the commands it is asked to run (the real Shell would sudo them)."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, Any]]] = []

    def run(self, argv: list[str], **kwargs: Any) -> None:
        self.calls.append((argv, kwargs))


def test_a_hosts_file_this_user_cannot_write_is_appended_to_as_root(tmp_path: Path) -> None:
    hosts = tmp_path / "not-here" / "hosts"  # os.access fails on a missing directory
    shell = _Recorder()
    added = hostname_setup.add_hosts_line(hosts, "10.0.0.1", "mboxed.test", shell)
    assert added is not None and added["root"] is True
    assert shell.calls == [
        (["tee", "-a", str(hosts)], {"input": "10.0.0.1 mboxed.test  # mboxed\n", "root": True})
    ]


def test_the_coredns_entry_is_added_once_and_removed(tmp_path: Path) -> None:
    with KubeAPIServer() as api:
        config = str(api.write_kubeconfig(tmp_path / "config"))
        client = kube.api_client("fake", config)
        with pytest.raises(MboxedError, match="no kube-system/coredns ConfigMap"):
            hostname_setup.add_coredns_entry(client, "10.0.0.1", "mboxed.test", context="fake")
        api.add(load_object("configmap-coredns-kubeadm.json"))
        assert not hostname_setup.coredns_has(client, "10.0.0.1", "mboxed.test")
        assert hostname_setup.add_coredns_entry(client, "10.0.0.1", "mboxed.test", context="f")
        assert hostname_setup.coredns_has(client, "10.0.0.1", "mboxed.test")
        assert not hostname_setup.add_coredns_entry(client, "10.0.0.1", "mboxed.test", context="f")
        assert (
            hostname_setup.remove_coredns_entry("fake", config, "10.0.0.1", "mboxed.test") is None
        )
        assert not hostname_setup.coredns_has(client, "10.0.0.1", "mboxed.test")


def test_removing_from_a_cluster_that_is_gone_says_why(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-kubeconfig")
    problem = hostname_setup.remove_coredns_entry("fake", missing, "10.0.0.1", "mboxed.test")
    assert problem is not None and "does not exist" in problem
