"""`mboxed trust` as a user runs it (the host-changing round trip is in
tests/steps/test_tls.py, as root)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.cli.run import mboxed, tree


def test_trust_without_a_deployment_explains_and_writes_nothing() -> None:
    result = mboxed("trust")
    assert result.returncode == 1
    assert result.stderr.startswith("error: deployment 'default' has no local CA yet")
    assert "hint: run `mboxed up` first" in result.stderr
    assert tree(Path(os.environ["MBOXED_HOME"])) == []


def test_trust_before_the_hostname_is_known_explains_and_changes_nothing() -> None:
    anchors = Path("/usr/local/share/ca-certificates")
    before = sorted(anchors.iterdir()) if anchors.is_dir() else []
    assert mboxed("up", "--only", "secrets", "--yes").returncode == 0  # a state, no cluster
    result = mboxed("trust")
    assert result.returncode == 1
    assert "step tls cannot run yet: it needs cluster first" in result.stderr
    # `trust` has no --only: the hint names the command that makes the CA
    assert "hint: run `mboxed up` first" in result.stderr
    assert "--only" not in result.stderr
    assert (sorted(anchors.iterdir()) if anchors.is_dir() else []) == before
