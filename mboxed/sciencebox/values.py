"""The Helm values of the ScienceBox chart, built from the profile and the
outputs of the steps cluster (hostname), secrets, tls and users.

Verified against sciencebox/charts commit ec7324658b488d6c70eb6c058ee6c717d349076d
("sciencebox: Bump chart version to 0.0.8", 2023-04-28; later commits touch only
READMEs of the umbrella chart) and the subcharts it pins: cernbox 0.0.5 and
ocis 0.0.9 (same repository, same commit), swan 0.1.11 (swan-cern/swan-charts
ca7f679d7a69b89c010ccbceccd995866dc42808, with z2jh jupyterhub 1.2.0),
openldap 2.0.4 (jp-gouin/helm-openldap 795328e4fc3a291ea99e456818870e9ad6b09a27),
revad 1.4.1 (cs3org/charts 764b84f), bitnami nginx 13.2.19 (keys `ingress.hostname`,
`ingress.extraTls`, `ingress.secrets[].{name,certificate,key}`,
`ingress.ingressClassName`). The EOS `server` chart (gitlab) could not be read:
its keys come from what the umbrella chart's values.yaml sets.

Where the chart defaults a hostname (every one is overridden below):
- swan.jupyterhub.hub.config.KeyCloakAuthenticator.oidc_issuer: https://sciencebox.local
- swan.jupyterhub.hub.config.KeyCloakAuthenticator.oauth_callback_url:
  https://sciencebox.hostname/swan/hub/oauth_callback
- cernbox.ocis.env.IDP_ISS: https://sciencebox.local            (cernbox/values.yaml)
- cernbox.ocis.config.server: https://ocis-idp.local/           (ocis/values.yaml)
- cernbox.ocis.ingress.hosts: [ocis-idp.local]                  (ocis/values.yaml)
- nginx-welcome-page.ingress.hostname: nginx.local              (bitnami nginx default)
- cernbox.web.hostname / oidcHostname, cernbox.gateway.hostname,
  cernbox.authproviderbearer.oidc.issuer, cernbox.ocis.env.OCIS_URL,
  swan.jupyterhub.ingress.hosts: unset in the chart (empty config).
- cernbox.ocis.configFiles.identifier_registration.yaml: https://ocis-idp.local/...
  is NOT rendered by ocis 0.0.9 (configmap-configfiles.yaml hard-codes the client
  list from config.server), so it is left alone.
`nginx-cernbox-theme.ingress.hostname` (set by the original deploy.sh) does not
exist in 0.0.8: there is no `nginx-cernbox-theme` dependency any more (the
theme is served by cernbox's `cernbox-web`), so it is not set.
`cernbox.ocis.config.server` is rendered as `https://{{ .Values.config.server }}`
(ocis/templates/configmap-configfiles.yaml): it takes the bare hostname, not
the https:// URL deploy.sh passed (which gave https://https://HOST).

Default secrets of the chart, by values path (all replaced, see DEFAULT_SECRETS):
- ldap.adminPassword: admin                (= ldap-instance-config.ldap_bindpw)
- ldap.configPassword: config
- ldap.env.LDAP_READONLY_USER_PASSWORD: readuser
  (= eos.mgm.ldapBindUsers.nslcd.config.ldap_bindpw, cernbox.ocis.env.LDAP_BIND_PASSWORD)
- mariadb.auth.rootPassword: reva, mariadb.auth.password: reva
- swan.jupyterhub.proxy.secretToken, swan.jupyterhub.hub.cookieSecret,
  swan.jupyterhub.hub.extraEnv.JUPYTERHUB_CRYPT_KEY: fixed 32-byte hex strings
- swan.jupyterhub.hub.config.KeyCloakAuthenticator.client_secret: 4a045535-...
- sciencebox.sssKeytab.fromFile: files/eos.keytab (a fixed key). NB: the chart's
  template prefers fromFile over fromValue, so fromFile is set to "" (not null:
  null would bring the default back) and the key goes in fromValue.
- cernbox.ocis.env.OCIS_JWT_SECRET: Pive-Fumkiu4,
  cernbox.ocis.env.STORAGE_TRANSFER_SECRET: replace-me-with-a-transfer-secret,
  cernbox.ocis.env.OCIS_MACHINE_AUTH_API_KEY: random_api_key
Secrets the templates hard-code where no value reaches (cernbox/templates/*.yaml:
revad jwt_secret, transfer_shared_secret, machine api_key, the readuser
bind_password and the MariaDB root db_password; ocis/templates: the swan client
secret and the supervisord password) are rewritten in the rendered manifests
by mboxed/sciencebox/postrender.py with the same generated values.

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
import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mboxed.errors import MboxedError
from mboxed.profile import deep_merge, size_mib
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
from mboxed.sciencebox.ldif import render_ldif
from mboxed.sciencebox.pull_policy import values_overlay as pull_policy_values

MASK = "********"

# values path -> the chart 0.0.8 default it must never keep (tests check all).
DEFAULT_SECRETS: dict[str, str] = {
    "ldap.adminPassword": "admin",
    "ldap.configPassword": "config",
    "ldap.env.LDAP_READONLY_USER_PASSWORD": "readuser",
    "ldap-instance-config.ldap_bindpw": "admin",
    "eos.mgm.ldapBindUsers.nslcd.config.ldap_bindpw": "readuser",
    "cernbox.ocis.env.LDAP_BIND_PASSWORD": "readuser",
    "mariadb.auth.rootPassword": "reva",
    "mariadb.auth.password": "reva",
    "swan.jupyterhub.proxy.secretToken": (
        "11df35dab7527b3798de5224f06458db1e0526fa65700e81e18f17f89822e0cf"
    ),
    "swan.jupyterhub.hub.cookieSecret": (
        "07006b4975f06166c988122e78603740788e93846265b0aec791c387a9a83925"
    ),
    "swan.jupyterhub.hub.extraEnv.JUPYTERHUB_CRYPT_KEY": (
        "8b9fa8fc38c56eb4b3194d875924bb27062635b038b75ffbc91d9a6212bd3e55"
    ),
    "swan.jupyterhub.hub.config.KeyCloakAuthenticator.client_secret": (
        "4a045535-6b99-49d3-bf41-8b410cd965a6"
    ),
    "sciencebox.sssKeytab.fromFile": "files/eos.keytab",
    "cernbox.ocis.env.OCIS_JWT_SECRET": "Pive-Fumkiu4",
    "cernbox.ocis.env.STORAGE_TRANSFER_SECRET": "replace-me-with-a-transfer-secret",
    "cernbox.ocis.env.OCIS_MACHINE_AUTH_API_KEY": "random_api_key",
}
# The fixed key material of the chart's files/eos.keytab (never to reappear).
DEFAULT_KEYTAB_KEY = "5755929b34c43d4512b739be1b90904f5cb17da5885b91d87d9f7925004a54f6"

# Hostname defaults of the chart and its subcharts (none may survive).
DEFAULT_HOSTNAMES = ("sciencebox.local", "sciencebox.hostname", "ocis-idp.local", "nginx.local")

# Values paths that carry the public hostname (SCIENCEBOX.md, checked against 0.0.8).
HOSTNAME_PATHS: dict[str, str] = {
    "nginx-welcome-page.ingress.hostname": "{host}",
    "eos-instance-config.config.oauth.resourceEndpoint": "{host}/konnect/v1/userinfo",
    "cernbox.ocis.env.IDP_ISS": "https://{host}",
    "cernbox.ocis.env.OCIS_URL": "https://{host}",
    "cernbox.ocis.ingress.hosts": "[{host}]",
    "cernbox.ocis.config.server": "{host}",
    "cernbox.web.hostname": "https://{host}",
    "cernbox.web.oidcHostname": "https://{host}",
    "cernbox.gateway.hostname": "https://{host}",
    "cernbox.authproviderbearer.oidc.issuer": "https://{host}",
    "swan.jupyterhub.hub.config.KeyCloakAuthenticator.oidc_issuer": "https://{host}",
    "swan.jupyterhub.hub.config.KeyCloakAuthenticator.oauth_callback_url": (
        "https://{host}/swan/hub/oauth_callback"
    ),
    "swan.jupyterhub.ingress.hosts": "[{host}]",
}

# Paths whose value is a secret, masked by `mask_secrets`.
SECRET_PATHS: tuple[str, ...] = (
    *[p for p in DEFAULT_SECRETS if p != "sciencebox.sssKeytab.fromFile"],
    "sciencebox.sssKeytab.fromValue",
    "nginx-welcome-page.ingress.secrets[].key",
    "swan.swan.secrets.ingress.key",
)

SWAN_TLS_SECRET = "sciencebox-swan-tls"

# The LDAP server's volume (openldap 2.0.4 `persistence`; see the module docstring).
LDAP_PERSISTENCE: dict[str, Any] = {"enabled": True, "size": "1Gi"}


@dataclass(frozen=True)
class TlsFiles:
    cert_pem: str
    key_pem: str
    secret_name: str


# --- small helpers -------------------------------------------------------------------


def get_path(values: Mapping[str, Any], dotted: str) -> Any:
    """`get_path(v, "a.b.c")`; KeyError when absent. (Keys never contain dots
    in the paths used here except where noted.)"""
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def _set(values: dict[str, Any], dotted: str, value: Any) -> None:
    node = values
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def walk_strings(value: Any, path: str = "") -> Iterable[tuple[str, str]]:
    """Every string in a values tree, with its dotted path."""
    if isinstance(value, Mapping):
        for key, child in value.items():
            yield from walk_strings(child, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from walk_strings(child, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, value


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
) -> dict[str, Any]:
    """The whole values mapping. Pure: same inputs, same values."""
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
            "persistence": dict(LDAP_PERSISTENCE),
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
                "demoUsers": {"userList": eos_user_list(users)},
            }
        },
        "swan": {
            "jupyterhub": {
                "proxy": {"secretToken": s["jupyterhub_proxy_token"]},
                "hub": {
                    "cookieSecret": s["jupyterhub_cookie_secret"],
                    "extraEnv": {"JUPYTERHUB_CRYPT_KEY": s["jupyterhub_crypt_key"]},
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
    values = deep_merge(values, resources_for(size_mib(provider.memory), provider.cpus))
    values = deep_merge(values, pull_policy_values())
    return deep_merge(values, profile.sciencebox.values)


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
) -> dict[str, Any]:
    """The full Helm values for this deployment (contract in the BRIEF), from
    the stored secrets, the users step's outputs and the certificate."""
    check_components(profile)
    users, groups = users_from_state(users_state)
    removed = removed_names(users_state.get("removed") or ())
    return build_values(profile, hostname, secrets, users, groups, tls, removed)


def preview_values(
    profile: Any,
    hostname: str,
    secrets: Mapping[str, Any],
    users_state: Mapping[str, Any],
    tls_state: Mapping[str, Any],
) -> tuple[dict[str, Any], list[str]]:
    """Values as `values_from_state` makes them, for `mboxed values` before
    `up`: what the stored state (secrets, users step's and tls step's outputs)
    lacks is generated in memory and NOT written. Returns the values and notes
    on what was generated."""
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
    values = build_values(profile, hostname, secrets, users, groups, tls, removed)
    return values, notes


# --- writing ---------------------------------------------------------------------------------


class _ValuesDumper(yaml.SafeDumper):
    """Block scalars for multi-line strings (LDIF, PEM); no anchors/aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        text = "\n".join(line.rstrip() for line in data.split("\n"))
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_ValuesDumper.add_representer(str, _str)


def dump_values(values: Mapping[str, Any]) -> str:
    """YAML for `helm -f`: readable block scalars, stable key order."""
    return yaml.dump(
        dict(values), Dumper=_ValuesDumper, sort_keys=True, allow_unicode=True, width=1 << 30
    )


# --- masking ----------------------------------------------------------------------------------


def _mask_ldif(text: str) -> str:
    return "\n".join(
        f"{line.split('::', 1)[0]}:: {MASK}" if line.lower().startswith("userpassword:") else line
        for line in text.split("\n")
    )


def mask_secrets(values: Mapping[str, Any], extra: Iterable[str] = ()) -> dict[str, Any]:
    """A copy of `values` with every secret replaced by ********: the known
    secret paths, password hashes in the LDIF, the TLS keys, and any string
    containing one of `extra` (e.g. the stored secrets, wherever the profile's
    raw values repeated them)."""
    out = copy.deepcopy(dict(values))
    needles = sorted({e for e in extra if e and len(e) >= 4}, key=len, reverse=True)

    def mask_path(node: Any, parts: list[str]) -> None:
        if not parts or not isinstance(node, dict):
            return
        head, rest = parts[0], parts[1:]
        if head.endswith("[]"):
            items = node.get(head[:-2])
            if isinstance(items, list):
                for item in items:
                    if isinstance(item, dict) and len(rest) == 1 and rest[0] in item:
                        item[rest[0]] = MASK
                    else:
                        mask_path(item, rest)
            return
        if head not in node:
            return
        if not rest:
            if node[head] not in (None, ""):
                node[head] = MASK
            return
        mask_path(node[head], rest)

    for path in SECRET_PATHS:
        mask_path(out, path.split("."))
    ldif_files = out.get("ldap-instance-config", {}).get("ldifFiles")
    if isinstance(ldif_files, dict):
        for name, text in list(ldif_files.items()):
            if isinstance(text, str):
                ldif_files[name] = _mask_ldif(text)

    def scrub(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: scrub(v) for k, v in node.items()}
        if isinstance(node, list):
            return [scrub(v) for v in node]
        if isinstance(node, str):
            for needle in needles:
                if needle in node:
                    node = node.replace(needle, MASK)
            return node
        return node

    return scrub(out) if needles else out
