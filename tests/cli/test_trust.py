"""`mboxed trust` as a user runs it (the host-changing round trip is in
tests/steps/test_tls.py, as root)."""

from __future__ import annotations

from pathlib import Path

from tests.cli.run import mboxed


def test_trust_before_the_hostname_is_known_explains_and_changes_nothing() -> None:
    anchors = Path("/usr/local/share/ca-certificates")
    before = sorted(anchors.iterdir()) if anchors.is_dir() else []
    result = mboxed("trust")
    assert result.returncode == 1
    assert "step tls cannot run yet: it needs cluster first" in result.stderr
    # `trust` has no --only: the hint names the command that makes the CA
    assert "hint: run `mboxed up` first" in result.stderr
    assert "--only" not in result.stderr
    assert (sorted(anchors.iterdir()) if anchors.is_dir() else []) == before
