"""mboxed.sciencebox.render: the install's manifests from real `helm template`
(Helm v3.17.3) on the project's model chart, offline; and their masking."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from mboxed.profile import load_profile
from mboxed.sciencebox import allocation, render
from mboxed.sciencebox import secrets as sb_secrets
from mboxed.sciencebox import values as sv
from mboxed.sciencebox.helm import Helm
from mboxed.sciencebox.manifests import documents, missing_volumes
from mboxed.sciencebox.values_text import MANIFEST_MASK, mask_manifests
from mboxed.shell import Shell
from tests.helm import MODEL_CHART
from tests.helm import Helm as RealHelm

HOST = "box.example.org"


def test_api_versions_follow_the_kubernetes_version() -> None:
    current = render.api_versions("v1.31.0")
    assert "networking.k8s.io/v1/Ingress" in current and "policy/v1" in current
    old = render.api_versions("v1.18.2")
    assert "networking.k8s.io/v1/Ingress" not in old and "apps/v1/StatefulSet" in old
    with pytest.raises(ValueError):
        render.api_versions("latest")


def test_the_install_is_rendered_offline_as_up_applies_it(
    real_helm: RealHelm, tmp_path: Path
) -> None:
    profile = load_profile("demo", overrides=[f"hostname={HOST}"]).profile
    users, groups = allocation.build_users(allocation.wanted_from_profile(profile.users))
    secrets = sb_secrets.complete({})
    values = sv.build_values(profile, HOST, secrets, users, groups, None)
    helm = Helm(Shell(env=real_helm.env()), "default", str(real_helm.path))
    workdir = tmp_path / "work"
    workdir.mkdir(mode=0o700)

    def rendered(kubernetes: str) -> str:
        return render.render_manifests(
            helm,
            release="sciencebox",
            chart=str(MODEL_CHART),
            values=values,
            postrender=render.postrender_config(profile, secrets),
            kubernetes_version=kubernetes,
            workdir=workdir,
        )

    text = rendered("v1.31.0")
    # the post-renderer ran (the chart's jwt_secret replaced), the values applied
    assert f'jwt_secret = "{secrets["reva_jwt_secret"]}"' in text and "POZSOrl" not in text
    assert missing_volumes(text) == []
    (ingress,) = [d.obj for d in documents(text) if d.kind == "Ingress"]
    assert ingress["apiVersion"] == "networking.k8s.io/v1"
    assert ingress["spec"]["rules"] == [{"host": HOST}]
    # an old cluster gets what the chart renders for it
    (old,) = [d.obj for d in documents(rendered("v1.18.0")) if d.kind == "Ingress"]
    assert old["apiVersion"] == "networking.k8s.io/v1beta1"
    assert stat.S_IMODE((workdir / "values.json").stat().st_mode) == 0o600
    # the chart's numbered EOS homes user0..user9 (no LDAP account) are not made;
    # the model chart makes them when the values leave userBlock alone
    assert "uname_prefix=" not in text
    del values["eos-instance-config"]["config"]["demoUsers"]["userBlock"]
    assert "uname_prefix=user" in rendered("v1.31.0")


SECRET_DOC = """---
# Source: box/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: box
data:
  token: c2VjcmV0LXRva2VuLXZhbHVl
  values.yaml: |
    aGVsbG8=
    d29ybGQ=
stringData:
  password: plain-password
type: Opaque
"""
CONFIG_DOC = """---
# Source: box/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: box
data:
  revad.toml: |
    jwt_secret = "secret-token-value"
  users.ldif: |
    dn: uid=a,ou=users,dc=owncloud,dc=com
    userPassword:: e1NTSEF9eHl6
  encoded: c2VjcmV0LXRva2VuLXZhbHVl
  env: secret-token-value
"""


def test_masked_manifests_keep_no_secret_and_still_parse() -> None:
    masked = mask_manifests(SECRET_DOC + CONFIG_DOC, ["secret-token-value"])
    for hidden in ("secret-token-value", "c2VjcmV0LXRva2VuLXZhbHVl", "aGVsbG8=", "d29ybGQ=",
                   "plain-password", "e1NTSEF9eHl6"):  # fmt: skip
        assert hidden not in masked
    secret, config = (d for d in yaml.safe_load_all(masked) if d)
    assert secret["data"] == {"token": MANIFEST_MASK, "values.yaml": MANIFEST_MASK}
    assert secret["stringData"] == {"password": MANIFEST_MASK} and secret["type"] == "Opaque"
    assert config["data"]["revad.toml"] == f'jwt_secret = "{MANIFEST_MASK}"\n'
    assert f"userPassword:: {MANIFEST_MASK}" in config["data"]["users.ldif"]
    assert config["data"]["env"] == config["data"]["encoded"] == MANIFEST_MASK
    assert "# Source: box/templates/configmap.yaml" in masked
