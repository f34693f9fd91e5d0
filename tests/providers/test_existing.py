"""existing: kubeconfig contexts, the context check, ingress address."""

from __future__ import annotations

from pathlib import Path

import pytest

from mboxed.errors import MboxedError, ProfileError
from mboxed.providers import ClusterSpec
from mboxed.providers.existing import (
    ExistingProvider,
    load_balancer_address,
    parse_kubeconfig_contexts,
)
from mboxed.shell import Shell
from tests.fakes.kube_api import KubeAPIServer, load_object

# A kubeconfig as `kubectl config view` shows one with two contexts.
KUBECONFIG = """
apiVersion: v1
kind: Config
clusters:
- cluster: {server: https://10.0.0.1:6443, certificate-authority-data: REDACTED}
  name: prod
contexts:
- context: {cluster: prod, user: admin}
  name: prod
- context: {cluster: prod, user: dev, namespace: science}
  name: dev@prod
current-context: dev@prod
users:
- name: admin
  user: {token: REDACTED}
"""


def test_parse_kubeconfig_contexts() -> None:
    assert parse_kubeconfig_contexts(KUBECONFIG) == (["prod", "dev@prod"], "dev@prod")
    assert parse_kubeconfig_contexts("") == ([], None)


def test_missing_context_names_it_and_lists_those_there(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(KUBECONFIG)
    spec = ClusterSpec("existing", "mboxed", context="no-such-context", kubeconfig=str(path))
    provider = ExistingProvider(spec, Shell(env={"HOME": str(tmp_path)}))
    with pytest.raises(ProfileError) as err:
        provider.kube_context()
    assert "'no-such-context'" in err.value.message
    assert "prod, dev@prod" in err.value.hint
    current = ExistingProvider(ClusterSpec("existing", "mboxed", kubeconfig=str(path)), Shell())
    assert current.kube_context() == "dev@prod"


def test_unreachable_cluster_is_reported(tmp_path: Path) -> None:
    with KubeAPIServer() as api:
        path = api.write_kubeconfig(tmp_path / "config", context="lab")
    # the server is gone now
    provider = ExistingProvider(
        ClusterSpec("existing", "mboxed", context="lab", kubeconfig=str(path)), Shell()
    )
    status = provider.status()
    assert (status.exists, status.running, status.state) == (True, False, "unreachable")
    assert "does not answer" in status.detail


def test_load_balancer_address() -> None:
    svc = {
        "metadata": {"labels": {"app.kubernetes.io/component": "controller"}},
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}},
    }
    other = {
        "metadata": {"labels": {}},
        "status": {"loadBalancer": {"ingress": [{"ip": "1.1.1.1"}]}},
    }
    assert load_balancer_address([other, svc]) == "203.0.113.7"
    assert load_balancer_address([other]) is None


def ingress_class(name: str, controller: str) -> dict[str, object]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": name}, "spec": {"controller": controller}}  # fmt: skip


def test_the_ingress_class_must_be_ingress_nginxs_nginx(tmp_path: Path) -> None:
    """The values name IngressClass nginx and use ingress-nginx annotations:
    another class, or another controller behind `nginx`, is refused clearly."""
    with KubeAPIServer() as api:
        path = api.write_kubeconfig(tmp_path / "config", context="lab")
        spec = ClusterSpec("existing", "mboxed", context="lab", kubeconfig=str(path))
        provider = ExistingProvider(spec, Shell())
        client = provider.client()
        api.add(ingress_class("traefik", "traefik.io/ingress-controller"))
        assert not provider.ingress_ready(client)
        with pytest.raises(MboxedError) as err:
            provider.ensure_ingress(client, print)
        assert err.value.message == (
            "the cluster of context 'lab': no IngressClass 'nginx' (IngressClasses there: traefik)"
        )
        assert "install ingress-nginx" in err.value.hint
        api.add(ingress_class("nginx", "nginx.org/ingress-controller"))
        with pytest.raises(MboxedError, match=r"served by nginx\.org/ingress-controller, not"):
            provider.ensure_ingress(client, print)
        api.remove("IngressClass", "nginx")
        api.add(load_object("ingressclass-nginx.json"))  # recorded from ingress-nginx
        assert provider.ingress_ready(client)
        provider.ensure_ingress(client, print)
