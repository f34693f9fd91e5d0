"""existing: kubeconfig contexts, the context check, ingress address."""

from __future__ import annotations

from pathlib import Path

import pytest

from mboxed.errors import ProfileError
from mboxed.providers import ClusterSpec
from mboxed.providers.existing import (
    ExistingProvider,
    load_balancer_address,
    parse_kubeconfig_contexts,
)
from mboxed.shell import Shell
from tests.fakes.kube_api import KubeAPIServer

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
