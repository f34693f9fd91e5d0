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


# ldap-instance-config 0.0.1 as chart 0.0.8 renders it for release `sciencebox`
# (sciencebox/charts ec7324658b48: ldap-instance-config/templates/configmap.yaml
# and job.yaml, labels from _helpers.tpl; script lines copied as facts).
SEEDING = """\
---
# Source: sciencebox/charts/ldap-instance-config/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: sciencebox-ldap-instance-config-script
  labels:
    helm.sh/chart: ldap-instance-config-0.0.1
    app.kubernetes.io/name: ldap-instance-config
    app.kubernetes.io/instance: sciencebox
    app.kubernetes.io/version: "1.5.0"
    app.kubernetes.io/managed-by: Helm
data:
  instance_config.sh: |
    #!/bin/bash
    set -x
    # Wait for the LDAP server to be online
    echo "INFO: Checking the LDAP server is online..."
    init_probe ldapwhoami -x -H $LDAP_URI -D $LDAP_BIND_DN -w $LDAP_BIND_PASSWORD
    echo "INFO: LDAP server is online."

    # ldapadd all the ldif files in /root/ldif-files
    for ldif in $(find /root/ldif-files -type l -name "*.ldif" | sort)  # k8s configMaps are projected as links
    do
      echo "INFO: Found $ldif -- Adding to ldap..."
      ldapadd -x -H $LDAP_URI -D $LDAP_BIND_DN -w $LDAP_BIND_PASSWORD -f $ldif
      sleep 3
    done
    echo "INFO: No other ldif files found..."
    echo "INFO: Done!"

    exit 0
---
# Source: sciencebox/charts/ldap-instance-config/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: sciencebox-ldap-instance-config-ldif-files
data:
  10_users.ldif: |-
    dn: ou=users,dc=owncloud,dc=com
    objectClass: organizationalUnit
    ou: users
---
# Source: sciencebox/charts/ldap-instance-config/templates/job.yaml
apiVersion: batch/v1
kind: Job
metadata:
  name: sciencebox-ldap-instance-config
spec:
  template:
    spec:
      restartPolicy: OnFailure
      containers:
        - name: ldap-instance-config
          image: "osixia/openldap:1.5.0"
          imagePullPolicy: Always
          command: ["/bin/bash", "/root/instance_config.sh"]
          volumeMounts:
            - name: ldap-instance-config-script
              mountPath: /root/instance_config.sh
              subPath: instance_config.sh
      volumes:
        - name: ldap-instance-config-script
          configMap:
            name: sciencebox-ldap-instance-config-script
            defaultMode: 0755
---
# Source: sciencebox/charts/other/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-the-seeding-script
data:
  run.sh: |
    ldapadd -x -H ldap://elsewhere -f x.ldif
"""  # noqa: E501


def test_the_seeding_job_runs_ldapadd_with_continue() -> None:
    """The Job runs the script ConfigMap; its ldapadd gets -c (go on past
    entries that exist), so a re-run loads the users a first run lacked."""
    out = pr.render(SEEDING, pr.make_config(sb_secrets.complete({}), {}))
    docs = {d["metadata"]["name"]: d for d in yaml.safe_load_all(out)}
    script = docs["sciencebox-ldap-instance-config-script"]["data"]["instance_config.sh"]
    ldapadds = [line.strip() for line in script.splitlines() if "ldapadd -" in line]
    assert ldapadds == [
        "ldapadd -c -x -H $LDAP_URI -D $LDAP_BIND_DN -w $LDAP_BIND_PASSWORD -f $ldif"
    ]
    # the probe, the Job that runs the script, and the rest stay as rendered
    assert "init_probe ldapwhoami -x -H $LDAP_URI" in script
    job = docs["sciencebox-ldap-instance-config"]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "/bin/bash",
        "/root/instance_config.sh",
    ]
    assert job["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"] == (
        "sciencebox-ldap-instance-config-script"
    )
    assert "ldapadd -x -H ldap://elsewhere" in docs["not-the-seeding-script"]["data"]["run.sh"]
    # rendering twice is the same as once (helm may run an upgrade again)
    again = pr.render(out, pr.make_config(sb_secrets.complete({}), {}))
    assert again.count("ldapadd -c -x") == 1 and "ldapadd -c -c" not in again
