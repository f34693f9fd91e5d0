"""The generated Helm values: hostname everywhere, no chart default secret
left, secrets from the state (same profile twice, same values), users
consistent between LDAP and EOS, secrets masked for printing."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mboxed.contract import Context
from mboxed.errors import MboxedError
from mboxed.profile import load_profile
from mboxed.sciencebox import accounts, allocation, ldif, postrender
from mboxed.sciencebox import chart_defaults as cd
from mboxed.sciencebox import secrets as sb_secrets
from mboxed.sciencebox import tls as sb_tls
from mboxed.sciencebox import values as sv
from mboxed.sciencebox import values_text as vt
from mboxed.steps import secrets as secrets_step
from mboxed.steps import tls as tls_step
from mboxed.steps import users as users_step
from tests.sciencebox.context import make_ctx, run

HOST = "box.example.org"

# SCIENCEBOX.md "The public hostname — every place it goes", as verified
# against the chart 0.0.8 (nginx-cernbox-theme no longer exists; ocis
# config.server takes the bare name, see values.py).
EXPECTED_HOSTNAME_KEYS: dict[str, Any] = {
    "nginx-welcome-page.ingress.hostname": HOST,
    "eos-instance-config.config.oauth.enabled": True,
    "eos-instance-config.config.oauth.resourceEndpoint": f"{HOST}/konnect/v1/userinfo",
    "cernbox.ocis.env.IDP_ISS": f"https://{HOST}",
    "cernbox.ocis.env.OCIS_URL": f"https://{HOST}",
    "cernbox.ocis.ingress.hosts": [HOST],
    "cernbox.ocis.config.server": HOST,
    "cernbox.web.hostname": f"https://{HOST}",
    "cernbox.web.oidcHostname": f"https://{HOST}",
    "cernbox.gateway.hostname": f"https://{HOST}",
    "cernbox.authproviderbearer.oidc.issuer": f"https://{HOST}",
    "swan.jupyterhub.hub.config.KeyCloakAuthenticator.oidc_issuer": f"https://{HOST}",
    "swan.jupyterhub.hub.config.KeyCloakAuthenticator.oauth_callback_url": (
        f"https://{HOST}/swan/hub/oauth_callback"
    ),
    "swan.jupyterhub.ingress.hosts": [HOST],
}


def full_values(tmp_path: Path, profile: str = "demo", *overrides: str) -> dict[str, Any]:
    ctx = make_ctx(tmp_path, profile=profile, overrides=[f"hostname={HOST}", *overrides])
    run(ctx, secrets_step.make(), tls_step.make(), users_step.make())
    return from_state(ctx, HOST)


def from_state(ctx: Context, hostname: str) -> dict[str, Any]:
    """The values of what the secrets, users and tls steps stored."""
    tls = sv.read_tls(ctx.outputs("tls")) if ctx.profile.tls == "local-ca" else None
    return sv.values_from_state(
        ctx.profile, hostname, ctx.outputs("secrets"), ctx.outputs("users"), tls
    )


@pytest.fixture
def values(tmp_path: Path) -> dict[str, Any]:
    return full_values(tmp_path)


def test_every_hostname_key_is_set(values: dict[str, Any]) -> None:
    for path, expected in EXPECTED_HOSTNAME_KEYS.items():
        assert vt.get_path(values, path) == expected, path
    for path in cd.HOSTNAME_PATHS:
        assert HOST in str(vt.get_path(values, path)), path
    assert "nginx-cernbox-theme" not in values  # not a dependency of 0.0.8


def test_no_chart_default_hostname_survives(values: dict[str, Any]) -> None:
    text = vt.dump_values(values)
    for name in cd.DEFAULT_HOSTNAMES:
        assert name not in text


def test_no_chart_default_secret_survives(values: dict[str, Any]) -> None:
    for path, default in cd.DEFAULT_SECRETS.items():
        value = vt.get_path(values, path)
        assert value != default, path
    assert vt.get_path(values, "sciencebox.sssKeytab.fromFile") == ""  # else the file wins
    assert sb_secrets.KEYTAB_LINE.match(vt.get_path(values, "sciencebox.sssKeytab.fromValue"))
    text = vt.dump_values(values)
    assert cd.DEFAULT_KEYTAB_KEY not in text
    for default in cd.DEFAULT_SECRETS.values():
        if len(default) >= 12:  # distinctive tokens must appear nowhere at all
            assert default not in text
    # the chart's own LDIF hashes are gone too (fresh salts)
    assert "e1NTSEF9TXJEcXpFNGdKbXZxbVRVTGhvWEZ1VzJBbkV3NWFLK3J3WTIvbHc9PQ==" not in text


def test_passwords_repeated_by_the_chart_agree(values: dict[str, Any]) -> None:
    admin = vt.get_path(values, "ldap.adminPassword")
    assert vt.get_path(values, "ldap-instance-config.ldap_bindpw") == admin
    readonly = vt.get_path(values, "ldap.env.LDAP_READONLY_USER_PASSWORD")
    assert vt.get_path(values, "eos.mgm.ldapBindUsers.nslcd.config.ldap_bindpw") == readonly
    assert vt.get_path(values, "cernbox.ocis.env.LDAP_BIND_PASSWORD") == readonly
    assert len({admin, readonly, vt.get_path(values, "ldap.configPassword")}) == 3


# post-render secret name -> the values path holding the other end of the link
LINKED_ENDS = {
    "reva_jwt_secret": "cernbox.ocis.env.OCIS_JWT_SECRET",
    "ocis_transfer_secret": "cernbox.ocis.env.STORAGE_TRANSFER_SECRET",
    "ocis_machine_auth_api_key": "cernbox.ocis.env.OCIS_MACHINE_AUTH_API_KEY",
    "ldap_readonly_password": "ldap.env.LDAP_READONLY_USER_PASSWORD",
    "mariadb_root_password": "mariadb.auth.rootPassword",
    "swan_oidc_client_secret": "swan.jupyterhub.hub.config.KeyCloakAuthenticator.client_secret",
}


def test_values_and_post_renderer_put_the_same_secret_at_both_ends(
    tmp_path: Path, values: dict[str, Any]
) -> None:
    ctx = make_ctx(tmp_path, overrides=[f"hostname={HOST}"])
    config = postrender.make_config(ctx.outputs("secrets"), {"swan": True, "cernbox": True})
    written = {value for _pattern, _literal, value in config["replacements"]}
    for name, path in LINKED_ENDS.items():
        assert vt.get_path(values, path) == ctx.outputs("secrets")[name]
        assert ctx.outputs("secrets")[name] in written
    named = {name for _p, _l, name in postrender.TEMPLATE_SECRETS}
    assert named - set(LINKED_ENDS) == {"supervisord_password"}  # both ends in one template


def test_tls_secret_is_on_every_ingress(values: dict[str, Any], tmp_path: Path) -> None:
    tls = {"secretName": sb_tls.SECRET_NAME, "hosts": [HOST]}
    assert vt.get_path(values, "nginx-welcome-page.ingress.extraTls") == [tls]
    assert vt.get_path(values, "cernbox.ocis.ingress.tls") == [tls]
    secret = vt.get_path(values, "nginx-welcome-page.ingress.secrets")[0]
    assert secret["name"] == sb_tls.SECRET_NAME
    cert_pem = (tmp_path / "mboxed-home/state/default/tls/cert.pem").read_text()
    assert secret["certificate"] == cert_pem
    swan = vt.get_path(values, "swan.jupyterhub.ingress.tls")
    assert swan == [{"secretName": sv.SWAN_TLS_SECRET, "hosts": [HOST]}]
    swan_cert = vt.get_path(values, "swan.swan.secrets.ingress.cert")
    assert base64.b64decode(swan_cert).decode() == cert_pem


def test_tls_none_leaves_the_ingresses_without_tls(tmp_path: Path) -> None:
    values = full_values(tmp_path, "demo", "tls=none")
    assert "tls" not in values["cernbox"]["ocis"]["ingress"]
    assert "secrets" not in values["nginx-welcome-page"]["ingress"]
    assert "swan" not in values["swan"]


def test_users_in_ldif_and_eos_agree_with_the_users_step(tmp_path: Path) -> None:
    values = full_values(tmp_path, "workshop")
    ctx = make_ctx(tmp_path, profile="workshop", overrides=[f"hostname={HOST}"])
    users, groups = accounts.users_from_state(ctx.outputs("users"))
    assert len(users) == 6 + 20
    assert values["ldap-instance-config"]["ldifFiles"] == ldif.render_ldif(users, groups)
    user_list = vt.get_path(values, "eos-instance-config.config.demoUsers.userList")
    assert user_list == {u.name: {"uid": u.uid, "gid": u.gid} for u in users}


def test_ldap_keeps_its_data_on_a_volume(values: dict[str, Any], tmp_path: Path) -> None:
    # chart 0.0.8 sets ldap.persistence.enabled: false (users gone at every LDAP
    # pod restart); openldap 2.0.4 then claims a volume of persistence.size
    # from the default StorageClass (persistence.storageClass unset).
    assert vt.get_path(values, "ldap.persistence") == {"enabled": True, "size": "1Gi"}
    own = full_values(
        tmp_path, "demo", "sciencebox.values.ldap.persistence.storageClass=local-path"
    )
    assert vt.get_path(own, "ldap.persistence") == {
        "enabled": True,
        "size": "1Gi",
        "storageClass": "local-path",
    }


def test_users_who_left_are_deleted_from_ldap_by_the_ldif(tmp_path: Path) -> None:
    full_values(tmp_path, "workshop", "users.generate.count=3")
    values = full_values(tmp_path, "workshop", "users.generate.count=1")
    files = vt.get_path(values, "ldap-instance-config.ldifFiles")
    assert files["40_removed.ldif"] == "".join(
        f"dn: uid=student0{n},ou=users,dc=owncloud,dc=com\nchangetype: delete\n\n" for n in (2, 3)
    )
    assert "student02" not in files["10_users.ldif"]
    assert set(vt.get_path(values, "eos-instance-config.config.demoUsers.userList")) >= {
        "student01"
    }
    assert "student02" not in vt.get_path(values, "eos-instance-config.config.demoUsers.userList")


def test_a_class_too_big_for_the_ldif_configmap_is_refused(tmp_path: Path) -> None:
    # 1,500 fit into the 1 MiB the seeding ConfigMap can hold; 1,700 do not
    ok = full_values(tmp_path / "a", "workshop", "users.generate.count=1500")
    files = vt.get_path(ok, "ldap-instance-config.ldifFiles")
    assert sum(len(t.encode()) for t in files.values()) <= sv.CONFIGMAP_LIMIT
    with pytest.raises(MboxedError, match=r"LDIF of 1706 users is \d+ bytes") as caught:
        full_values(tmp_path / "b", "workshop", "users.generate.count=1700")
    assert "users.generate.count" in caught.value.hint


def test_same_profile_twice_gives_the_same_values(tmp_path: Path) -> None:
    first = full_values(tmp_path)
    second = full_values(tmp_path)  # a new context, same state file
    assert first == second
    elsewhere = full_values(tmp_path / "other")
    assert elsewhere != first  # another deployment: other secrets


def test_profile_raw_values_are_merged_last(tmp_path: Path) -> None:
    values = full_values(
        tmp_path,
        "demo",
        "sciencebox.values.eos.fst.replicaCount=7",
        "sciencebox.values.cernbox.ocis.env.OCIS_LOG_LEVEL=info",
    )
    assert values["eos"]["fst"]["replicaCount"] == 7
    assert values["cernbox"]["ocis"]["env"]["OCIS_LOG_LEVEL"] == "info"
    assert values["cernbox"]["ocis"]["env"]["IDP_ISS"] == f"https://{HOST}"  # merged, not replaced


def test_resources_follow_the_profile_size(tmp_path: Path) -> None:
    ci = full_values(tmp_path / "ci", "ci")
    demo = full_values(tmp_path / "demo", "demo")
    assert ci["eos"]["fst"]["replicaCount"] == 2
    assert demo["eos"]["fst"]["replicaCount"] == 4
    ci_hub = ci["swan"]["jupyterhub"]["hub"]["resources"]["requests"]["memory"]
    assert ci_hub == "256Mi"


def test_swan_without_cernbox_is_refused(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, overrides=["sciencebox.components.cernbox=false"])
    with pytest.raises(MboxedError, match="swan needs cernbox"):
        sv.values_from_state(ctx.profile, HOST, {}, {}, None)


def test_masking_hides_every_secret(tmp_path: Path, values: dict[str, Any]) -> None:
    ctx = make_ctx(tmp_path, overrides=[f"hostname={HOST}"])
    stored = ctx.outputs("secrets")
    masked = vt.dump_values(vt.mask_secrets(values))
    for secret in sb_secrets.secret_values(stored):
        assert secret not in masked
    users, _ = accounts.users_from_state(ctx.outputs("users"))
    for user in users:
        assert user.password_hash.removeprefix("{SSHA}") not in masked
    assert "PRIVATE KEY" not in masked
    assert masked.count(vt.MASK) >= len(cd.SECRET_PATHS)
    # the unmasked form still has them (the masking worked on a copy)
    assert stored["jupyterhub_proxy_token"] in vt.dump_values(values)


def test_masking_catches_secrets_the_profile_repeated(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, overrides=[f"hostname={HOST}"])
    run(ctx, secrets_step.make())
    token = ctx.outputs("secrets")["reva_jwt_secret"]
    masked = vt.mask_secrets({"custom": {"note": f"jwt={token}"}}, extra=[token])
    assert masked == {"custom": {"note": f"jwt={vt.MASK}"}}


def test_dumped_values_are_yaml_helm_reads_back(values: dict[str, Any]) -> None:
    text = vt.dump_values(values)
    assert yaml.safe_load(text) == values
    assert "&id" not in text and "*id" not in text  # no anchors


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    count=st.integers(min_value=0, max_value=120),
    classic=st.booleans(),
    prefix=st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True),
    host=st.from_regex(r"[a-z][a-z0-9]{0,10}(\.[a-z][a-z0-9]{0,10}){1,3}", fullmatch=True),
)
def test_values_are_consistent_for_any_users_and_hostname(
    count: int, classic: bool, prefix: str, host: str
) -> None:
    profile = load_profile(
        "demo",
        overrides=[
            f"hostname={host}",
            f"users.generate.count={count}",
            f"users.generate.prefix={prefix}",
            f"users.preset={'classic' if classic else 'none'}",
        ],
    ).profile
    users, groups = allocation.build_users(allocation.wanted_from_profile(profile.users))
    secrets = sb_secrets.complete({})
    values = sv.build_values(profile, host, secrets, users, groups, None)
    for path, template in cd.HOSTNAME_PATHS.items():
        value = vt.get_path(values, path)
        if template.startswith("["):
            assert value == [host]
        else:
            assert value == template.format(host=host)
    user_list = values["eos-instance-config"]["config"]["demoUsers"]["userList"]
    assert len(user_list) == count + (6 if classic else 1)  # reva is always there
    ldif = values["ldap-instance-config"]["ldifFiles"]["10_users.ldif"]
    for name, ids in user_list.items():
        block = ldif.split(f"dn: uid={name},ou=users,dc=owncloud,dc=com\n", 1)[1].split("\n\n")[0]
        assert f"uidNumber: {ids['uid']}\n" in block and f"gidNumber: {ids['gid']}\n" in block
    masked = vt.dump_values(vt.mask_secrets(values))
    assert not any(s in masked for s in sb_secrets.secret_values(secrets))


# --- workarounds for the real chart 0.0.8 (chart_fixes.py; issue 9) ---------------------


def test_eos_volumes_are_one_choice_for_both_utils_versions(values: dict[str, Any]) -> None:
    # utils 0.1.4 reads persistence.type, 0.1.7 persistence.enabled: both say "disabled"
    for name in ("fst", "mgm", "qdb"):
        assert vt.get_path(values, f"eos.{name}.persistence") == {
            "type": "disabled",
            "enabled": "disabled",
        }


def test_eos_persistence_the_two_copies_would_read_apart_is_refused(tmp_path: Path) -> None:
    both = full_values(
        tmp_path / "a",
        "demo",
        "sciencebox.values.eos.qdb.persistence.type=pvc",
        "sciencebox.values.eos.qdb.persistence.enabled=pvc",
    )
    assert vt.get_path(both, "eos.qdb.persistence") == {"type": "pvc", "enabled": "pvc"}
    with pytest.raises(MboxedError, match=r"eos\.fst\.persistence has type 'pvc' but enabled"):
        full_values(tmp_path / "b", "demo", "sciencebox.values.eos.fst.persistence.type=pvc")


def test_bitnami_images_come_from_bitnamilegacy(values: dict[str, Any]) -> None:
    # docker.io/bitnami deleted the old tags; the charts' tags stay
    for path, name in (
        ("mariadb", "mariadb"),
        ("nginx-welcome-page", "nginx"),
        ("cernbox.cernbox-web", "nginx"),
    ):
        image = vt.get_path(values, f"{path}.image")
        assert (image["registry"], image["repository"]) == ("docker.io", f"bitnamilegacy/{name}")
        assert set(image) <= {"registry", "repository", "pullPolicy"}, path  # the tag: the chart's


def test_one_ldap_server_without_replication_or_a_phantom_pull_secret(
    values: dict[str, Any],
) -> None:
    assert vt.get_path(values, "ldap.replicaCount") == 1
    assert vt.get_path(values, "ldap.replication.enabled") is False
    assert vt.get_path(values, "ldap.image.pullSecret") == ""  # openldap 2.0.4: `harbor`


def test_cernbox_web_is_reached_through_the_ingress_only(values: dict[str, Any]) -> None:
    assert vt.get_path(values, "cernbox.cernbox-web.service.type") == "ClusterIP"


def test_swan_spawn_error_page_links_this_cernbox(values: dict[str, Any]) -> None:
    entry = vt.get_path(values, "swan.jupyterhub.hub.extraConfig")["02-spawnError"]
    assert "CHANGE_ME" not in entry
    assert f"cernbox_url = 'https://{HOST}'" in entry
    assert "c.SpawnHandlersConfigs.spawn_error_message" in entry
    compile(entry, "02-spawnError", "exec")  # the hub executes it as Python


def test_the_crypt_key_goes_where_z2jh_reads_it(tmp_path: Path, values: dict[str, Any]) -> None:
    ctx = make_ctx(tmp_path, overrides=[f"hostname={HOST}"])
    key = ctx.outputs("secrets")["jupyterhub_crypt_key"]
    assert vt.get_path(values, "swan.jupyterhub.hub.config.CryptKeeper.keys") == [key]
    # the variable z2jh's CryptKeeper.keys overrides carries the same key
    assert vt.get_path(values, "swan.jupyterhub.hub.extraEnv") == {"JUPYTERHUB_CRYPT_KEY": key}
    assert key not in vt.dump_values(vt.mask_secrets(values))


def test_no_pre_puller_hook_or_daemonset(values: dict[str, Any]) -> None:
    # hooks never pass the post-renderer; mboxed pulls images itself
    assert vt.get_path(values, "swan.jupyterhub.prePuller") == {
        "hook": {"enabled": False},
        "continuous": {"enabled": False},
    }
