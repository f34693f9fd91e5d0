"""The summary text: what `mboxed up` prints last, from the summary's data."""

from __future__ import annotations

from mboxed.sciencebox.summary import build_summary, render


def test_tls_none_has_no_ca_advice() -> None:
    summary = build_summary(
        hostname="h.example.org",
        https_port=443,
        swan=True,
        cernbox=True,
        deployment="default",
        demo_user=None,
        tls="none",
        ca_cert=None,
        trusted=False,
    )
    assert "ca_cert" not in summary
    assert "log in as" not in render(summary)
