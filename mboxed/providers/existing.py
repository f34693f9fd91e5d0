"""The existing-cluster provider: any kubeconfig context (a real multi-node
cluster, EKS, ...). mboxed checks it and uses it; it creates nothing at
cluster level, and never stops or deletes it.

Checks: the context exists in the kubeconfig; the API answers /version; the
user may create what the ScienceBox chart installs in its namespace
(SelfSubjectAccessReview, authorization.k8s.io/v1); the IngressClass `nginx`
of ingress-nginx exists (see INGRESS_CLASS).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import yaml

from mboxed import kube
from mboxed.errors import MboxedError, ProfileError
from mboxed.providers import ClusterSpec, ClusterStatus, Progress, kubeconfig_from_env

# (verb, API group, resource) the ScienceBox chart needs in its namespace.
NAMESPACED_PERMISSIONS: tuple[tuple[str, str, str], ...] = (
    ("create", "apps", "deployments"),
    ("create", "apps", "statefulsets"),
    ("create", "apps", "daemonsets"),
    ("create", "", "services"),
    ("create", "", "configmaps"),
    ("create", "", "secrets"),
    ("create", "", "serviceaccounts"),
    ("create", "", "persistentvolumeclaims"),
    ("create", "networking.k8s.io", "ingresses"),
    ("create", "rbac.authorization.k8s.io", "roles"),
    ("create", "rbac.authorization.k8s.io", "rolebindings"),
    ("create", "batch", "jobs"),
    ("list", "", "pods"),
)


def parse_kubeconfig_contexts(text: str) -> tuple[list[str], str | None]:
    """A kubeconfig's YAML → (context names, current-context)."""
    data = yaml.safe_load(text) or {}
    if not isinstance(data, Mapping):
        return [], None
    names = [str(c.get("name")) for c in data.get("contexts") or [] if c.get("name")]
    current = data.get("current-context") or None
    return names, (str(current) if current else None)


def required_permissions(namespace: str) -> list[tuple[str, str, str, str]]:
    return [(verb, group, res, namespace) for verb, group, res in NAMESPACED_PERMISSIONS]


# The values mboxed generates, and the chart's own, name IngressClass `nginx`
# (nginx-welcome-page.ingress.ingressClassName; `kubernetes.io/ingress.class:
# nginx` on oCIS and SWAN) and rely on ingress-nginx's annotations
# (nginx.ingress.kubernetes.io/backend-protocol: HTTPS for oCIS,
# ssl-redirect for SWAN), which another controller ignores. ingress-nginx's
# IngressClass names its controller `k8s.io/ingress-nginx`.
INGRESS_CLASS = "nginx"
INGRESS_CONTROLLER = "k8s.io/ingress-nginx"


def ingress_class_problem(classes: Sequence[Mapping[str, Any]]) -> str | None:
    """Why the cluster's IngressClasses (API JSON) cannot serve ScienceBox, or None."""
    by_name = {str(c.get("metadata", {}).get("name")): c for c in classes}
    found = by_name.get(INGRESS_CLASS)
    if found is None:
        there = ", ".join(sorted(by_name)) or "none"
        return f"no IngressClass {INGRESS_CLASS!r} (IngressClasses there: {there})"
    controller = str((found.get("spec") or {}).get("controller") or "")
    if controller != INGRESS_CONTROLLER:
        return (
            f"IngressClass {INGRESS_CLASS!r} is served by {controller or 'no controller'}, "
            f"not ingress-nginx ({INGRESS_CONTROLLER}), whose annotations the chart uses"
        )
    return None


def load_balancer_address(services: Sequence[Mapping[str, Any]]) -> str | None:
    """The external IP of an ingress controller's LoadBalancer Service, if any."""
    for svc in services:
        labels = svc.get("metadata", {}).get("labels") or {}
        if labels.get("app.kubernetes.io/component") != "controller":
            continue
        for entry in (svc.get("status", {}).get("loadBalancer") or {}).get("ingress") or []:
            if entry.get("ip"):
                return str(entry["ip"])
    return None


class ExistingProvider:
    name = "existing"
    host_ports: tuple[int, int] | None = None  # the cluster's own ingress decides

    def __init__(self, spec: ClusterSpec, shell: Any) -> None:
        self.spec = spec
        self.shell = shell

    def tool_missing(self) -> str | None:
        return None

    def root_problem(self) -> str | None:
        return None

    def kubeconfig(self) -> str | None:
        return self.spec.kubeconfig or kubeconfig_from_env(self.shell.env)

    def kube_context(self) -> str:
        """The context the profile names; else the kubeconfig's current one."""
        path = self.kubeconfig() or ""
        names, current = kube.list_contexts(path)
        wanted = self.spec.context or current
        if wanted is None:
            raise MboxedError(
                f"provider existing: no provider.context given and {path} has no current context",
                hint="set provider.context to one of: " + (", ".join(names) or "(none)"),
            )
        if wanted not in names:
            raise ProfileError(
                f"provider.context {wanted!r}: no such context in {path}",
                hint="contexts there: " + (", ".join(names) if names else "(none)"),
            )
        return wanted

    def restore_context(self) -> None:
        self.kube_context()  # names the missing context; mboxed cannot make one

    def client(self) -> Any:
        return kube.api_client(self.kube_context(), self.kubeconfig())

    def status(self) -> ClusterStatus:
        client = self.client()
        try:
            version = kube.server_version(client)
        except MboxedError as exc:
            return ClusterStatus(True, False, "unreachable", {}, exc.message)
        return ClusterStatus(True, True, "Running", {"kubernetes_version": version}, version)

    def wanted_settings(self) -> dict[str, Any]:
        return {}  # an existing cluster is taken as it is

    def create_summary(self) -> str:
        return f"use the existing cluster of context {self.spec.context!r}"

    def ensure(self, progress: Progress, before_create: Callable[[], None] | None = None) -> bool:
        current = self.status()
        if not current.running:
            raise MboxedError(
                f"the cluster of context {self.kube_context()!r} does not answer: {current.detail}",
                hint="check the VPN/network and that the context's credentials are valid "
                "(kubectl --context ... get nodes)",
            )
        return False

    def _refuse(self, what: str) -> None:
        raise MboxedError(
            f"mboxed does not {what} an existing cluster (context {self.spec.context!r}): "
            "it did not create it",
        )

    def start(self, progress: Progress) -> None:
        self._refuse("start")

    def stop(self, progress: Progress) -> None:
        self._refuse("stop")

    def delete(self, progress: Progress) -> None:
        self._refuse("delete")

    def ingress_summary(self) -> str:
        return f"use the cluster's IngressClass {INGRESS_CLASS!r} (ingress-nginx)"

    def ingress_ready(self, client: Any) -> bool:
        return ingress_class_problem(kube.list_objects(client, "IngressClass")) is None

    def ensure_ingress(self, client: Any, progress: Progress) -> None:
        problem = ingress_class_problem(kube.list_objects(client, "IngressClass"))
        if problem is not None:
            raise MboxedError(
                f"the cluster of context {self.kube_context()!r}: {problem}",
                hint="install ingress-nginx (its IngressClass is 'nginx') first; on an "
                "existing cluster mboxed installs nothing cluster-wide",
            )

    def ingress_address(self, client: Any) -> str:
        from mboxed.providers.kind import node_address

        found = load_balancer_address(kube.list_objects(client, "Service"))
        return found or node_address(kube.list_objects(client, "Node"))

    def https_port(self) -> int:
        return 443

    def load_image(self, image: str) -> None:
        raise MboxedError(
            "cannot load a local image into an existing cluster",
            hint="push the image to a registry the cluster can pull from",
        )
