"""`mboxed values` as a user runs it: a real `python -m mboxed` process."""

from __future__ import annotations

from typing import Any

import yaml

from mboxed.sciencebox import chart_defaults as cd
from mboxed.sciencebox import secrets as sb_secrets
from mboxed.sciencebox import values_text as vt
from tests.cli.run import mboxed, state_file

POSTRENDER_ONLY = {"supervisord_password"}


def test_done_when_values_for_an_explicit_hostname() -> None:
    result = mboxed(
        "values", "--profile", "demo", "--set", "hostname=box.example.org", "--show-secrets"
    )
    assert result.returncode == 0, result.stderr
    values: dict[str, Any] = yaml.safe_load(result.stdout)
    assert values["cernbox"]["ocis"]["env"]["IDP_ISS"] == "https://box.example.org"
    keycloak = values["swan"]["jupyterhub"]["hub"]["config"]["KeyCloakAuthenticator"]
    assert keycloak["oidc_issuer"] == "https://box.example.org"
    assert keycloak["oauth_callback_url"] == "https://box.example.org/swan/hub/oauth_callback"
    assert values["nginx-welcome-page"]["ingress"]["hostname"] == "box.example.org"
    assert "sciencebox.local" not in result.stdout
    for path, default in cd.DEFAULT_SECRETS.items():
        assert vt.get_path(values, path) != default, path
        if len(default) >= 12:
            assert default not in result.stdout
    assert cd.DEFAULT_KEYTAB_KEY not in result.stdout
    # before `up`, nothing is written, and the header says so
    assert "nothing was written" in result.stdout
    assert not state_file().exists()


def test_stored_secrets_are_masked_unless_asked_and_stable() -> None:
    up = mboxed(
        "up", "--profile", "demo", "--set", "hostname=box.example.org",
        "--only", "secrets", "--only", "tls", "--only", "users", "--yes",
    )  # fmt: skip
    assert up.returncode == 0, up.stderr
    stored = yaml.safe_load(state_file().read_text())["steps"]["secrets"]["outputs"]
    secrets = sb_secrets.secret_values(stored)
    masked = mboxed("values")  # the profile the last `up` used
    assert masked.returncode == 0, masked.stderr
    assert not any(secret in masked.stdout for secret in secrets)
    assert "PRIVATE KEY" not in masked.stdout
    assert "secrets masked" in masked.stdout and "nothing was written" not in masked.stdout
    shown = mboxed("values", "--show-secrets")
    # all but the one only the post-renderer writes (supervisord)
    in_values = {k: v for k, v in stored.items() if k not in POSTRENDER_ONLY}
    assert all(secret in shown.stdout for secret in sb_secrets.secret_values(in_values))
    again = mboxed("values", "--show-secrets")
    assert yaml.safe_load(again.stdout) == yaml.safe_load(shown.stdout)


def test_hostname_auto_says_it_resolves_after_the_cluster_step() -> None:
    result = mboxed("values", "--profile", "demo")
    assert result.returncode == 1
    assert "resolves after the cluster step" in result.stderr
    assert "--set hostname=" in result.stderr
    assert result.stdout == ""
