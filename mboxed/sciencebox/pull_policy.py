"""Every image IfNotPresent, and a SWAN spawn that survives a cold pull.

With `Always`, a pod that restarts asks the registry again even when its
image is on the node: offline, or with Docker Hub's 10 anonymous pulls an
hour spent, it stays in ImagePullBackOff. Each chart of ScienceBox 0.0.8 has
its own key (read in the charts at the tags SCIENCEBOX.md lists):

- EOS: `utils.imagePullPolicy` (cern-eos/eos-charts utils 0.1.4 and 0.1.7,
  templates/_image.tpl) is `coalesce global.pullPolicy image.pullPolicy
  "Always"`, used by qdb, mgm, mq, fst, eos-instance-config,
  eos-user-cache-refresher and swan's fusex: one `global.pullPolicy` reaches
  them all (Helm hands the umbrella's `global` to every subchart);
- mgm's nslcd and nscd sidecars: `default "Always" .pullPolicy` of
  `ldapBindUsers.{nslcd,nscd}.image` (mgm 0.1.4 templates/statefulset.yaml);
- openldap 2.0.4 and ldap-instance-config 0.0.1: `image.pullPolicy`
  (the latter `default "Always"`);
- revad 1.4.1 (six aliases in cernbox 0.0.5), ocis 0.0.9, bitnami nginx
  (welcome page, cernbox-web) and mariadb: `image.pullPolicy`;
- cvmfs 0.0.5: `image.pullPolicy`;
- z2jh 1.2.0: `hub.image.pullPolicy`, `proxy.chp.image.pullPolicy`,
  `scheduling.userPlaceholder.image.pullPolicy` (templates, `with`), and
  `singleuser.image.pullPolicy` -> KubeSpawner.image_pull_policy
  (files/hub/jupyterhub_config.py). The user pod's `block-cloud-metadata`
  init container gets no policy from z2jh: Kubernetes' default,
  IfNotPresent for its `1.2.0` tag. cernbox-web's init container
  (`busybox:stable`, a list item in cernbox's values) has none either:
  IfNotPresent by the same default.

No post-renderer rule is needed for 0.0.8: every template that writes a
policy reads it from a value, and the two containers without one
(cernbox-web's init, user-placeholder's `pause:3.5`) are IfNotPresent by
Kubernetes' default. A rewrite of the rendered text could not tell a
chart's default from a value a user set on purpose.

The spawn timeout: swan 0.1.11 sets `hub.config.SwanSpawner.start_timeout:
60` (values.yaml, "max 60s for whole spawn process"), which beats z2jh's
`singleuser.startTimeout` (SwanSpawner's own config wins over KubeSpawner's).
Sixty seconds is not enough for a several-GB user image on a cold node.
"""

from __future__ import annotations

from typing import Any

IF_NOT_PRESENT = "IfNotPresent"

# values paths (dotted; the aliases contain no dots) set to IfNotPresent
PULL_POLICY_PATHS: tuple[str, ...] = (
    "global.pullPolicy",
    "eos.mgm.ldapBindUsers.nslcd.image.pullPolicy",
    "eos.mgm.ldapBindUsers.nscd.image.pullPolicy",
    "ldap.image.pullPolicy",
    "ldap-instance-config.image.pullPolicy",
    "mariadb.image.pullPolicy",
    "nginx-welcome-page.image.pullPolicy",
    *(
        f"cernbox.{alias}.image.pullPolicy"
        for alias in (
            "gateway",
            "storageproviderhome",
            "storageprovideruser",
            "storageproviderpublic",
            "authprovidermachine",
            "authproviderbearer",
            "ocis",
            "cernbox-web",
        )
    ),
    "swan.cvmfs.image.pullPolicy",
    "swan.jupyterhub.hub.image.pullPolicy",
    "swan.jupyterhub.proxy.chp.image.pullPolicy",
    "swan.jupyterhub.singleuser.image.pullPolicy",
    "swan.jupyterhub.singleuser.networkTools.image.pullPolicy",
    "swan.jupyterhub.scheduling.userPlaceholder.image.pullPolicy",
)

# Seconds the spawner waits for a user pod: a cold pull of the SWAN image
# (several GB at a few MB/s) fits; a pre-pulled one starts in seconds.
SPAWN_TIMEOUT_PATH = "swan.jupyterhub.hub.config.SwanSpawner.start_timeout"
SPAWN_TIMEOUT = 900


def _set(values: dict[str, Any], dotted: str, value: Any) -> None:
    node = values
    *parents, last = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def values_overlay() -> dict[str, Any]:
    """The values that make every image IfNotPresent and the spawn patient;
    merged under the profile's own `sciencebox.values` (a user may differ)."""
    overlay: dict[str, Any] = {}
    for path in PULL_POLICY_PATHS:
        _set(overlay, path, IF_NOT_PRESENT)
    _set(overlay, SPAWN_TIMEOUT_PATH, SPAWN_TIMEOUT)
    return overlay
