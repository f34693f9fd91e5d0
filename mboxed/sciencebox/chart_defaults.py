"""What the ScienceBox chart 0.0.8 ships that must never reach an install:
its default secrets and default hostnames, by values path (a data table; the
values that replace them are built in mboxed/sciencebox/values.py).

Verified against sciencebox/charts commit ec7324658b488d6c70eb6c058ee6c717d349076d
("sciencebox: Bump chart version to 0.0.8", 2023-04-28; later commits touch only
READMEs of the umbrella chart) and the subcharts it pins: cernbox 0.0.5 and
ocis 0.0.9 (same repository, same commit), swan 0.1.11 (swan-cern/swan-charts
ca7f679d7a69b89c010ccbceccd995866dc42808, with z2jh jupyterhub 1.2.0),
openldap 2.0.4 (jp-gouin/helm-openldap 795328e4fc3a291ea99e456818870e9ad6b09a27),
revad 1.4.1 (cs3org/charts 764b84f), bitnami nginx 13.2.19 (keys `ingress.hostname`,
`ingress.extraTls`, `ingress.secrets[].{name,certificate,key}`,
`ingress.ingressClassName`).

Where the chart defaults a hostname (every one is overridden):
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

Default secrets of the chart, by values path (all replaced):
- ldap.adminPassword: admin                (= ldap-instance-config.ldap_bindpw)
- ldap.configPassword: config
- ldap.env.LDAP_READONLY_USER_PASSWORD: readuser
  (= eos.mgm.ldapBindUsers.nslcd.config.ldap_bindpw, cernbox.ocis.env.LDAP_BIND_PASSWORD)
- mariadb.auth.rootPassword: reva, mariadb.auth.password: reva
- swan.jupyterhub.proxy.secretToken, swan.jupyterhub.hub.cookieSecret,
  swan.jupyterhub.hub.extraEnv.JUPYTERHUB_CRYPT_KEY: fixed 32-byte hex strings
  (the last one is dead: z2jh reads CryptKeeper.keys, see chart_fixes.py)
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
"""

from __future__ import annotations

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

# Paths whose value is a secret, masked by values_text.mask_secrets.
SECRET_PATHS: tuple[str, ...] = (
    *[p for p in DEFAULT_SECRETS if p != "sciencebox.sssKeytab.fromFile"],
    "swan.jupyterhub.hub.config.CryptKeeper.keys",
    "sciencebox.sssKeytab.fromValue",
    "nginx-welcome-page.ingress.secrets[].key",
    "swan.swan.secrets.ingress.key",
)

# The umbrella's own `eos-instance-config.config.demoUsers.userList` (sciencebox
# values.yaml 0.0.8). Helm merges mboxed's list into it, so these six get an
# EOS home even when a profile drops the classic preset (uids 20000-20004 and
# 10001, below the ones mboxed allocates: no account can collide). They cannot
# be nulled out: with Helm 3.17.3 a null entry stays in the map as nil and the
# template's `$properties.uid` fails ("nil pointer evaluating interface
# {}.uid"), while a null `userBlock` (a whole key of the subchart) is dropped.
CHART_EOS_USERS = ("admin", "einstein", "marie", "moss", "reva", "richard")
