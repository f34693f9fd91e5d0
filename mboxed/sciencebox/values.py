"""The Helm values of the ScienceBox chart, built from the profile and the
outputs of the steps cluster (hostname), secrets, tls and users.

What goes where: the chart's defaults that must not survive (secrets,
hostnames) are listed in chart_defaults.py, the workarounds the real chart
0.0.8 needs in chart_fixes.py, YAML and masking in values_text.py.

LDAP keeps its data: the chart sets `ldap.persistence.enabled: false`, so
its users (loaded once by the ldap-instance-config Job) were gone whenever the
LDAP pod restarted. openldap 2.0.4 (the published openldap-2.0.4.tgz, sha256
13d4b44a..., tag v2.0.4 = 91f19be35e97; templates/statefullset.yaml,
values.yaml) mounts one volume `data` at /var/lib/ldap (subPath data),
/etc/ldap/slapd.d (subPath config-data) and the certs directory: an emptyDir
unless `persistence.enabled`, else a volumeClaimTemplate with
`persistence.accessModes`, `persistence.size` and `persistence.storageClass`
(unset: the cluster's default StorageClass, which minikube and kind have).
osixia/openldap then finds its database at the next start and skips the
bootstrap. 1Gi is plenty for a class (the chart's default is 8Gi).

Component toggles: the umbrella chart 0.0.8 declares its dependencies without
`condition:`, so no values flag can switch SWAN or CERNBox off (a
`swan.enabled: false` would be silently ignored by Helm). A disabled component
is therefore dropped from the rendered manifests by the post-renderer; the
values carry no fake flags.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mboxed.errors import MboxedError
from mboxed.profile import deep_merge
from mboxed.profile_schema import size_mib
from mboxed.sciencebox import secrets as sb_secrets
from mboxed.sciencebox import tls as sb_tls
from mboxed.sciencebox.accounts import (
    Group,
    User,
    eos_user_list,
    removed_names,
    users_from_state,
)
from mboxed.sciencebox.allocation import build_users, wanted_from_profile
from mboxed.sciencebox.chart_fixes import chart_fixes, check_eos_persistence
from mboxed.sciencebox.ldif import render_ldif
from mboxed.sciencebox.pull_policy import values_overlay as pull_policy_values
from mboxed.sciencebox.web_assets import values_overlay as web_assets_values

SWAN_TLS_SECRET = "sciencebox-swan-tls"


@dataclass(frozen=True)
class TlsFiles:
    cert_pem: str
    key_pem: str
    secret_name: str


# --- sizes that fit the profile ----------------------------------------------------------


def resources_for(memory_mib: int, cpus: int) -> dict[str, Any]:
    """Requests sized to the cluster: small machines get small requests so
    everything schedules; the EOS FST count follows (the chart's 4 from 8 GiB)."""
    small = memory_mib < 8192 or cpus < 4
    large = memory_mib >= 12288 and cpus >= 6
    user_mem = "2G" if large else ("512M" if small else "1G")
    user_cpu = 1 if large else 0.5
    hub = {"cpu": "100m", "memory": "256Mi"} if small else {"cpu": "200m", "memory": "512Mi"}
    chp = {"cpu": "100m", "memory": "128Mi"} if small else {"cpu": "200m", "memory": "512Mi"}
    return {
        "eos": {"fst": {"replicaCount": 2 if small else 4}},
        "swan": {
            "jupyterhub": {
                "singleuser": {
                    "cpu": {"limit": user_cpu, "guarantee": min(user_cpu, 0.5)},
                    "memory": {"limit": user_mem, "guarantee": "512M"},
                },
                "hub": {"resources": {"requests": hub}},
                "proxy": {"chp": {"resources": {"requests": chp}}},
            }
        },
    }


# --- the values ----------------------------------------------------------------------------


def build_values(
    profile: Any,
    hostname: str,
    secrets: Mapping[str, str],
    users: list[User],
    groups: list[Group],
    tls: TlsFiles | None,
    removed: Iterable[str] = (),
    web_assets: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The whole values mapping. Pure: same inputs, same values.
    `web_assets`: the web-assets step's `assets` (cernbox-web's files in
    ConfigMaps); empty keeps the chart's downloading init container."""
    host = hostname
    url = f"https://{host}"
    s = secrets
    ldif = render_ldif(users, groups, removed)
    check_ldif_size(ldif, len(users))
    values: dict[str, Any] = {
        "sciencebox": {
            "sssKeytab": {"createSecret": True, "fromFile": "", "fromValue": s["eos_sss_keytab"]}
        },
        "ldap": {
            "adminPassword": s["ldap_admin_password"],
            "configPassword": s["ldap_config_password"],
            "env": {"LDAP_READONLY_USER_PASSWORD": s["ldap_readonly_password"]},
        },
        "ldap-instance-config": {
            "ldap_bindpw": s["ldap_admin_password"],
            "ldifFiles": ldif,
        },
        "mariadb": {
            "auth": {
                "rootPassword": s["mariadb_root_password"],
                "password": s["mariadb_password"],
            }
        },
        "nginx-welcome-page": {
            "ingress": {"hostname": host, "ingressClassName": "nginx"},
        },
        "eos": {
            "mgm": {
                "ldapBindUsers": {"nslcd": {"config": {"ldap_bindpw": s["ldap_readonly_password"]}}}
            }
        },
        "eos-instance-config": {
            "config": {
                "oauth": {"enabled": True, "resourceEndpoint": f"{host}/konnect/v1/userinfo"},
                "demoUsers": {
                    "userList": eos_user_list(users),
                    # the chart's default block of homes user0..user9 (uid
                    # 1000-1009) belongs to no LDAP account: null removes it
                    # (chart_defaults.CHART_EOS_USERS says why the umbrella's
                    # named users cannot be removed the same way). Helm 3.17.3
                    # still prints "coalesce.go:298: warning: cannot overwrite
                    # table with non table for ...userBlock" (to the log).
                    "userBlock": None,
                },
            }
        },
        "swan": {
            "jupyterhub": {
                "proxy": {"secretToken": s["jupyterhub_proxy_token"]},
                "hub": {
                    "cookieSecret": s["jupyterhub_cookie_secret"],
                    "config": {
                        "KeyCloakAuthenticator": {
                            "oidc_issuer": url,
                            "oauth_callback_url": f"{url}/swan/hub/oauth_callback",
                            "client_secret": s["swan_oidc_client_secret"],
                        }
                    },
                },
                "ingress": {"hosts": [host]},
            }
        },
        "cernbox": {
            "web": {"hostname": url, "oidcHostname": url},
            "gateway": {"hostname": url},
            "authproviderbearer": {"oidc": {"issuer": url}},
            "ocis": {
                "config": {"server": host},
                "env": {
                    "IDP_ISS": url,
                    "OCIS_URL": url,
                    "LDAP_BIND_PASSWORD": s["ldap_readonly_password"],
                    "OCIS_JWT_SECRET": s["reva_jwt_secret"],
                    "STORAGE_TRANSFER_SECRET": s["ocis_transfer_secret"],
                    "OCIS_MACHINE_AUTH_API_KEY": s["ocis_machine_auth_api_key"],
                },
                "ingress": {
                    "hosts": [host],
                    # merged by Helm with the chart's backend-protocol annotation
                    "annotation": {"kubernetes.io/ingress.class": "nginx"},
                    "annotation_http": {"kubernetes.io/ingress.class": "nginx"},
                },
            },
        },
    }
    if tls is not None:
        entry = {"secretName": tls.secret_name, "hosts": [host]}
        # the welcome page's bitnami chart creates the shared TLS secret
        values["nginx-welcome-page"]["ingress"].update(
            secrets=[{"name": tls.secret_name, "certificate": tls.cert_pem, "key": tls.key_pem}],
            extraTls=[dict(entry, hosts=[host])],
        )
        values["cernbox"]["ocis"]["ingress"]["tls"] = [dict(entry, hosts=[host])]
        # the swan chart creates a Secret for each of its ingress.tls entries
        # from swan.secrets.ingress.{cert,key} (base64): same certificate, own name
        values["swan"]["jupyterhub"]["ingress"]["tls"] = [
            {"secretName": SWAN_TLS_SECRET, "hosts": [host]}
        ]
        values["swan"]["swan"] = {
            "secrets": {
                "ingress": {
                    "cert": base64.b64encode(tls.cert_pem.encode()).decode(),
                    "key": base64.b64encode(tls.key_pem.encode()).decode(),
                }
            }
        }
    provider = profile.provider
    values = deep_merge(values, chart_fixes(host, s["jupyterhub_crypt_key"]))
    values = deep_merge(values, resources_for(size_mib(provider.memory), provider.cpus))
    values = deep_merge(values, pull_policy_values())
    if web_assets and profile.sciencebox.components.cernbox:
        values = deep_merge(values, web_assets_values(web_assets))
    values = deep_merge(values, profile.sciencebox.values)
    check_eos_persistence(values)
    return values


# The chart puts `ldifFiles` into one ConfigMap (ldap-instance-config
# templates/configmap.yaml), and Kubernetes refuses a ConfigMap whose data
# exceeds 1 MiB (core/v1 ConfigMap: "cannot exceed 1 MiB").
CONFIGMAP_LIMIT = 1024 * 1024


def ldif_size_problem(ldif: Mapping[str, str], count: int) -> tuple[str, str] | None:
    """(message, hint) when the LDIF cannot go into the chart's ConfigMap."""
    size = sum(len(text.encode("utf-8")) for text in ldif.values())
    if size <= CONFIGMAP_LIMIT:
        return None
    return (
        f"users: the LDIF of {count} users is {size} bytes, more than the 1 MiB "
        f"({CONFIGMAP_LIMIT} bytes) a Kubernetes ConfigMap holds; the chart loads "
        "LDAP from one (ldap-instance-config.ldifFiles)",
        "use fewer users (users.generate.count, users.roster): about 1,500 fit",
    )


def check_ldif_size(ldif: Mapping[str, str], count: int) -> None:
    problem = ldif_size_problem(ldif, count)
    if problem is not None:
        raise MboxedError(problem[0], hint=problem[1])


# --- gathering the inputs ---------------------------------------------------------------------


def check_components(profile: Any) -> None:
    components = profile.sciencebox.components
    if components.swan and not components.cernbox:
        raise MboxedError(
            "sciencebox.components: swan needs cernbox (SWAN logs in through the "
            "oCIS identity provider that the cernbox component deploys)",
            hint="set sciencebox.components.cernbox: true, or swan: false",
        )


def read_tls(outputs: Mapping[str, Any]) -> TlsFiles:
    try:
        cert = Path(outputs["cert"]).read_text()
        key = Path(outputs["key"]).read_text()
    except (KeyError, OSError) as exc:
        raise MboxedError(
            f"the tls step's certificate is missing ({exc})",
            hint="run `mboxed up --only tls` to make it again",
        ) from None
    return TlsFiles(cert, key, str(outputs.get("secret_name") or sb_tls.SECRET_NAME))


def values_from_state(
    profile: Any,
    hostname: str,
    secrets: Mapping[str, Any],
    users_state: Mapping[str, Any],
    tls: TlsFiles | None,
    web_assets: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The full Helm values for this deployment (contract in the BRIEF), from
    the stored secrets, the users step's outputs, the certificate and the
    web-assets step's outputs."""
    check_components(profile)
    users, groups = users_from_state(users_state)
    removed = removed_names(users_state.get("removed") or ())
    return build_values(profile, hostname, secrets, users, groups, tls, removed, web_assets)


@dataclass(frozen=True)
class Preview:
    values: dict[str, Any]
    notes: list[str]  # what was generated for the preview only
    secrets: dict[str, str]  # every secret the values were built with (for the post-renderer)


def preview_values(
    profile: Any,
    hostname: str,
    secrets: Mapping[str, Any],
    users_state: Mapping[str, Any],
    tls_state: Mapping[str, Any],
    web_assets_state: Mapping[str, Any] | None = None,
) -> Preview:
    """Values as `values_from_state` makes them, for `mboxed values` and
    `mboxed render` before `up`: what the stored state (secrets, users step's
    and tls step's outputs) lacks is generated in memory and NOT written."""
    check_components(profile)
    notes: list[str] = []
    if sb_secrets.missing(secrets):
        notes.append("secrets generated for this preview only (none stored yet)")
    secrets = sb_secrets.complete(secrets)
    removed: Iterable[str] = ()
    if users_state.get("users"):
        users, groups = users_from_state(users_state)
        removed = removed_names(users_state.get("removed") or ())
    else:
        notes.append("users generated for this preview only (none stored yet)")
        users, groups = build_users(wanted_from_profile(profile.users))
    tls: TlsFiles | None = None
    if profile.tls == "local-ca":
        if tls_state.get("cert") and Path(str(tls_state["cert"])).exists():
            tls = read_tls(tls_state)
        else:
            notes.append("TLS certificate made for this preview only (none stored yet)")
            ca = sb_tls.make_ca("mboxed preview CA")
            issued = sb_tls.issue(ca, hostname)
            tls = TlsFiles(issued.cert_pem.decode(), issued.key_pem.decode(), sb_tls.SECRET_NAME)
    # Before the web-assets step stored them, cernbox-web keeps the chart's
    # init container (which downloads from github.com): nothing to make up here.
    web_assets = list((web_assets_state or {}).get("assets") or ())
    values = build_values(profile, hostname, secrets, users, groups, tls, removed, web_assets)
    return Preview(values, notes, secrets)
