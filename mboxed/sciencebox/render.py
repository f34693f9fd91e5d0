"""The manifests an install applies, rendered without a cluster: the values
file and the post-renderer the `sciencebox` step installs with, and real
`helm template` told the Kubernetes version and API versions of the
profile's cluster (`--kube-version`, `--api-versions`: without them Helm
assumes its own defaults, and z2jh 1.2.0 renders a removed Ingress version,
templates/ingress.yaml `Capabilities.APIVersions.Has
"networking.k8s.io/v1/Ingress"`).

`write_values_file` and `postrender_config` are what the `sciencebox` step
uses for `helm upgrade --install`, so `mboxed render` shows what `up` applies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mboxed.files import write_atomic
from mboxed.sciencebox.helm import Helm
from mboxed.sciencebox.postrender import make_config, write_post_renderer
from mboxed.sciencebox.release import normalise

# Stable (GA) API group versions and kinds, with the Kubernetes minor release
# that first served them (Kubernetes release notes and the "Deprecated API
# Migration Guide"); none of them has been removed since. Helm's `--api-versions`
# adds these to its built-in list, which names group versions but no kinds.
GA_APIS: tuple[tuple[str, int], ...] = (
    ("v1", 0),
    ("apps/v1", 9),
    ("apps/v1/Deployment", 9),
    ("apps/v1/StatefulSet", 9),
    ("apps/v1/DaemonSet", 9),
    ("batch/v1", 0),
    ("batch/v1/Job", 0),
    ("batch/v1/CronJob", 21),
    ("autoscaling/v1", 2),
    ("autoscaling/v2", 23),
    ("policy/v1", 21),
    ("policy/v1/PodDisruptionBudget", 21),
    ("networking.k8s.io/v1", 8),
    ("networking.k8s.io/v1/NetworkPolicy", 8),
    ("networking.k8s.io/v1/Ingress", 19),
    ("networking.k8s.io/v1/IngressClass", 19),
    ("rbac.authorization.k8s.io/v1", 8),
    ("storage.k8s.io/v1", 6),
    ("scheduling.k8s.io/v1", 14),
    ("coordination.k8s.io/v1", 14),
    ("discovery.k8s.io/v1", 21),
)


def api_versions(kubernetes_version: str) -> list[str]:
    """The GA APIs a cluster of `kubernetes_version` (v1.31.0) serves."""
    match = re.match(r"^v?1\.(\d+)\.", kubernetes_version)
    if match is None:
        raise ValueError(f"not a Kubernetes version: {kubernetes_version!r}")
    minor = int(match.group(1))
    return [api for api, since in GA_APIS if since <= minor]


def postrender_config(profile: Any, secrets: Mapping[str, str]) -> dict[str, Any]:
    """The post-renderer's config for this profile and these secrets."""
    components = profile.sciencebox.components
    return make_config(secrets, {"swan": components.swan, "cernbox": components.cernbox})


def write_values_file(path: Path, values: Mapping[str, Any]) -> bool:
    """Write the values as JSON (YAML to helm), 0600 and atomically: they hold
    secrets. True when the file was new."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fresh = not path.exists()
    text = json.dumps(normalise(values), indent=2, sort_keys=True) + "\n"
    write_atomic(path, text.encode(), 0o600)
    return fresh


def render_manifests(
    helm: Helm,
    *,
    release: str,
    chart: str,
    values: Mapping[str, Any],
    postrender: Mapping[str, Any],
    kubernetes_version: str,
    workdir: Path,
) -> str:
    """`helm template` of `chart` with these values and post-renderer config,
    for a cluster of `kubernetes_version`. `workdir` (private, 0700) receives
    the values file and the post-renderer; the caller removes it."""
    values_path = workdir / "values.json"
    write_values_file(values_path, values)
    renderer = write_post_renderer(workdir / "postrender", normalise(postrender))
    return helm.template(
        release,
        chart,
        [str(values_path)],
        str(renderer),
        kube_version=kubernetes_version,
        api_versions=api_versions(kubernetes_version),
    )
