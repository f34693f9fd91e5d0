"""The ingress's address: the base URL people are given."""

from __future__ import annotations

from mboxed.sciencebox.ingress import Ingress, base_url


def test_base_url_names_the_port_only_when_not_443() -> None:
    assert base_url("box.example.org", 443) == "https://box.example.org"
    assert base_url("box.example.org", None) == "https://box.example.org"
    assert base_url("box.example.org", 8443) == "https://box.example.org:8443"
    assert Ingress("box.example.org", "127.0.0.1", 8443).base == "https://box.example.org:8443"
