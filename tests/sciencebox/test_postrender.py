"""The post-renderer: hard-coded chart secrets replaced, disabled components dropped.

The input imitates `helm template` output of the chart 0.0.8: the lines are
those of cernbox/templates/gateway.yaml, authprovider-machine.yaml and
ocis/templates/configmap-*.yaml as rendered (facts of the chart), with Helm's
`# Source:` headers.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from mboxed.sciencebox import postrender as pr
from mboxed.sciencebox import secrets as sb_secrets

RENDERED = """\
---
# Source: sciencebox/charts/cernbox/templates/gateway.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: gateway-config
data:
  revad.toml: |-
    [shared]
    gatewaysvc = "localhost:9142"
    jwt_secret = "POZSOrlP7AgnTxH7MJebWV8ohvsApgbd4u3Joen30c"
    [grpc.services.gateway]
    transfer_shared_secret = "replace-me-with-a-transfer-secret"
    [grpc.services.authprovider.auth_managers.ldap]
    bind_username = "cn=readuser,dc=owncloud,dc=com"
    bind_password = "readuser"
    [grpc.services.publicshareprovider.drivers.sql]
    db_username = "root"
    db_password = "reva"
    db_name = "my_database"
---
# Source: sciencebox/charts/cernbox/templates/authprovider-machine.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: authprovider-machine-config
data:
  revad.toml: |-
    [grpc.services.authprovider.auth_managers.machine]
    api_key = "random_api_key"
---
# Source: sciencebox/charts/cernbox/charts/ocis/templates/configmap-configfiles.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: sciencebox-ocis-configfiles
data:
  identifier_registration.yaml: |-
      clients:
        - id: swan
          secret: 4a045535-6b99-49d3-bf41-8b410cd965a6
          name: SWAN
---
# Source: sciencebox/charts/cernbox/charts/ocis/templates/configmap-supervisord.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: sciencebox-ocis-supervisord
data:
  supervisord.conf: |-
    [unix_http_server]
    username=admin                               ; (default is no username (open server))
    password=admin                               ; (default is no password (open server))
    [supervisorctl]
    password=admin                               ; should be same as http_password if set
---
# Source: sciencebox/charts/swan/templates/config.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: swan-scripts
data:
  a: b
---
# Source: sciencebox/templates/sciencebox-landing-page.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: sciencebox-landing-page-cfgmap
data:
  index.html: hello
"""


def test_every_hard_coded_secret_is_replaced_with_the_generated_one() -> None:
    secrets = sb_secrets.complete({})
    config = pr.make_config(secrets, {"swan": True, "cernbox": True})
    assert pr.leftover_defaults(RENDERED)  # the input really has them
    out = pr.render(RENDERED, config)
    assert pr.leftover_defaults(out) == []
    docs = list(yaml.safe_load_all(out))
    assert len(docs) == 6  # nothing dropped, still valid YAML
    gateway = docs[0]["data"]["revad.toml"]
    assert f'jwt_secret = "{secrets["reva_jwt_secret"]}"' in gateway
    assert f'transfer_shared_secret = "{secrets["ocis_transfer_secret"]}"' in gateway
    assert f'bind_password = "{secrets["ldap_readonly_password"]}"' in gateway
    assert f'db_password = "{secrets["mariadb_root_password"]}"' in gateway
    assert 'bind_username = "cn=readuser,dc=owncloud,dc=com"' in gateway  # untouched
    assert 'db_username = "root"' in gateway
    assert secrets["ocis_machine_auth_api_key"] in docs[1]["data"]["revad.toml"]
    assert (
        f"secret: {secrets['swan_oidc_client_secret']}"
        in (docs[2]["data"]["identifier_registration.yaml"])
    )
    supervisord = docs[3]["data"]["supervisord.conf"]
    assert supervisord.count(f"password={secrets['supervisord_password']} ") == 2
    assert "username=admin" in supervisord


def test_disabled_components_are_dropped_by_source() -> None:
    config = pr.make_config(sb_secrets.complete({}), {"swan": False, "cernbox": True})
    out = pr.render(RENDERED, config)
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(out)]
    assert "swan-scripts" not in names
    assert "gateway-config" in names and "sciencebox-landing-page-cfgmap" in names
    no_cernbox = pr.render(RENDERED, pr.make_config(sb_secrets.complete({}), {"cernbox": False}))
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(no_cernbox)] == [
        "swan-scripts",
        "sciencebox-landing-page-cfgmap",
    ]


def test_written_post_renderer_runs_as_helm_would_run_it(tmp_path: Path) -> None:
    secrets = sb_secrets.complete({})
    script = pr.write_post_renderer(tmp_path / "pr", pr.make_config(secrets, {}))
    assert os.access(script, os.X_OK)
    assert (tmp_path / "pr" / "postrender.json").stat().st_mode & 0o777 == 0o600
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [str(script)], input=RENDERED, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert pr.leftover_defaults(result.stdout) == []
    assert secrets["reva_jwt_secret"] in result.stdout
