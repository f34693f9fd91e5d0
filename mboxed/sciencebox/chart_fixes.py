"""Values that make the published ScienceBox chart 0.0.8 install and work on
one machine: what a real render of the chart and all its pinned dependencies
showed (issue 9; the project's SCIENCEBOX.md, "The real chart 0.0.8,
rendered"; checked as in docs/sciencebox-config.md, "Checked against the real
chart"). Each entry names the upstream file that makes it necessary.

- EOS volumes. cern-eos/eos-charts utils 0.1.4 (under eos server, fst, mgm,
  qdb) and utils 0.1.7 (under eos-instance-config, eos-user-cache-refresher)
  both `define "utils.persistence"` (templates/_persistence.tpl). Helm keeps
  one definition per name for the whole render, and 0.1.7's wins. 0.1.4's
  answers `lower (coalesce global.eos.persistence.type persistence.type
  "disabled")`; 0.1.7's answers `lower (coalesce (toString
  global.persistence.enabled) (toString persistence.enabled) "false")`.
  fst/mgm/qdb templates/statefulset.yaml compare the answer with "disabled"
  (emptyDir), "hostpath" and "pvc"; with the chart's values 0.1.7 says
  "false" and the StatefulSets mount `fst-storage`, `mgm-data`,
  `quarkdb-data` without defining them: the API server refuses them.
  `persistence: {type: X, enabled: X}` makes either copy answer X. mboxed
  sets X = "disabled" (emptyDir), the chart's own default type: see
  EOS_PERSISTENCE and docs/sciencebox-config.md for what that means for
  EOS data on each provider. A profile may choose "hostpath" or "pvc" in
  sciencebox.values, as long as `type` and `enabled` agree (checked).
- Bitnami images. docker.io/bitnami deleted its old tags (2025-09-29); the
  same images live on as docker.io/bitnamilegacy/<name>. bitnami mariadb
  11.4.2 and nginx 13.2.19 / 13.2.21 values.yaml: `image.registry:
  docker.io`, `image.repository: bitnami/<name>`, tag kept.
- LDAP. openldap 2.0.4 values.yaml: `replicaCount: 3`, `replication.enabled:
  true` (multi-master over three pods and three claims); one machine wants
  one server. `image.pullSecret: harbor` is rendered unconditionally
  (templates/statefullset.yaml `imagePullSecrets: - name: {{
  .Values.image.pullSecret }}`) and nothing creates it; an empty name is
  skipped by the kubelet without a warning (kubernetes
  pkg/kubelet/kubelet_pods.go getPullSecretsForPod: "API validation
  permitted entries with empty names ... Ignore").
- cernbox-web. bitnami nginx 13.2.21 `service.type: LoadBalancer`: a public
  address on a cloud cluster that bypasses oCIS, "pending" locally. The
  ingress reaches it as a ClusterIP Service.
- SWAN. The umbrella's `swan.jupyterhub.hub.extraConfig.02-spawnError` sets
  `cernbox_url = 'CHANGE_ME'` and with it
  `c.SpawnHandlersConfigs.spawn_error_message`; extraConfig entries run after
  hub.config, so the entry itself is replaced (same name, same effect, the
  deployment's URL). z2jh 1.2.0 sets `c.CryptKeeper.keys` from its own
  Secret (files/hub/jupyterhub_config.py; templates/hub/_helpers-passwords.tpl:
  `hub.config.CryptKeeper.keys`, else a random one per render), which wins
  over the umbrella's `hub.extraEnv.JUPYTERHUB_CRYPT_KEY`: the generated key
  goes to CryptKeeper.keys. The variable cannot be removed (a null from the
  top does not reach swan's jupyterhub subchart: Helm 3.17 renders it as nil
  and z2jh's "jupyterhub.extraEnv" fails on it), so it carries the same key:
  one key, wherever JupyterHub looks.
- Hooks. Helm 3 does not pass hooks through a post-renderer (pkg/action
  action.go renderResources), so no rewrite could reach them. z2jh 1.2.0
  defaults `prePuller.hook.enabled: true`; the umbrella turns it off and
  swan 0.1.11 turns `prePuller.continuous` off. mboxed states both: it
  pre-pulls images itself, and relies on the chart rendering no hook.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mboxed.errors import MboxedError

# The EOS components whose StatefulSets read "utils.persistence".
EOS_PERSISTENT_COMPONENTS = ("fst", "mgm", "qdb")
# One answer both utils copies give: the chart's own default type (emptyDir).
EOS_PERSISTENCE: dict[str, str] = {"type": "disabled", "enabled": "disabled"}

# values path -> repository on docker.io (the tag stays the chart's).
BITNAMI_LEGACY: dict[str, str] = {
    "mariadb": "bitnamilegacy/mariadb",
    "nginx-welcome-page": "bitnamilegacy/nginx",
    "cernbox.cernbox-web": "bitnamilegacy/nginx",
}

# The LDAP server's volume (openldap 2.0.4 `persistence`; see values.py).
LDAP_PERSISTENCE: dict[str, Any] = {"enabled": True, "size": "1Gi"}


def spawn_error_config(host: str) -> str:
    """The hub's extraConfig entry `02-spawnError`, pointing at this CERNBox."""
    return (
        "# mboxed: this deployment's CERNBox (the chart's entry has a placeholder)\n"
        f"cernbox_url = 'https://{host}'\n"
        "c.SpawnHandlersConfigs.spawn_error_message = (\n"
        "    'SWAN could not start a session for you. Please try again; if it keeps '\n"
        "    'failing, check that you can log in to '\n"
        '    f\'<a href="{cernbox_url}" target="_blank">CERNBox</a> and tell whoever \'\n'
        "    'runs this ScienceBox that SWAN is not starting sessions.'\n"
        ")\n"
    )


def _nest(dotted: str, value: Any) -> dict[str, Any]:
    head, _, rest = dotted.partition(".")
    return {head: _nest(rest, value) if rest else value}


def chart_fixes(host: str, crypt_key: str) -> dict[str, Any]:
    """The values of the workarounds above (merged under the profile's own)."""
    from mboxed.profile import deep_merge

    fixes: dict[str, Any] = {
        "eos": {name: {"persistence": dict(EOS_PERSISTENCE)} for name in EOS_PERSISTENT_COMPONENTS},
        "ldap": {
            "persistence": dict(LDAP_PERSISTENCE),
            "replicaCount": 1,
            "replication": {"enabled": False},
            "image": {"pullSecret": ""},
        },
        "cernbox": {"cernbox-web": {"service": {"type": "ClusterIP"}}},
        "swan": {
            "jupyterhub": {
                "hub": {
                    "extraEnv": {"JUPYTERHUB_CRYPT_KEY": crypt_key},
                    "config": {"CryptKeeper": {"keys": [crypt_key]}},
                    "extraConfig": {"02-spawnError": spawn_error_config(host)},
                },
                "prePuller": {"hook": {"enabled": False}, "continuous": {"enabled": False}},
            }
        },
    }
    for path, repository in BITNAMI_LEGACY.items():
        image = {"image": {"registry": "docker.io", "repository": repository}}
        fixes = deep_merge(fixes, _nest(path, image))
    return fixes


def check_eos_persistence(values: Mapping[str, Any]) -> None:
    """Refuse EOS persistence values the two utils copies would read apart."""
    eos = values.get("eos") if isinstance(values.get("eos"), Mapping) else {}
    for name in EOS_PERSISTENT_COMPONENTS:
        component = eos.get(name) if isinstance(eos, Mapping) else None
        given = component.get("persistence") if isinstance(component, Mapping) else None
        if not isinstance(given, Mapping):
            continue
        kind = str(given.get("type", "")).lower()
        enabled = str(given.get("enabled", "")).lower()
        if kind != enabled:
            raise MboxedError(
                f"sciencebox.values: eos.{name}.persistence has type {kind!r} but enabled "
                f"{enabled!r}; the chart's two copies of EOS utils read one each, so the "
                "pods would mount a volume they do not define",
                hint=f"give both the same value, e.g. eos.{name}.persistence: "
                "{type: pvc, enabled: pvc} (see docs/sciencebox-config.md)",
            )
