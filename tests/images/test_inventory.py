"""The inventory: every image of a render, with where it runs and its
effective pull policy; the spawner's image from the hub's values; checked on
hand-written manifests and with real Helm on the model chart."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml

from mboxed.images.ingress import CERTGEN, CONTROLLER, ingress_images
from mboxed.images.inventory import (
    ALWAYS,
    IF_NOT_PRESENT,
    INGRESS,
    SPAWNER,
    Image,
    InventoryError,
    Use,
    inventory,
    not_if_not_present,
)
from mboxed.sciencebox.postrender import make_config, write_post_renderer
from mboxed.sciencebox.pull_policy import values_overlay
from tests.helm import Helm

CRONJOB = """\
# Source: x/templates/cron.yaml
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          initContainers:
            - {name: prep, image: busybox}
          containers:
            - {name: run, image: "busybox:stable", imagePullPolicy: Always}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  template:
    spec:
      containers:
        - {name: a, image: "osixia/openldap:1.5.0"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: not-a-workload}
data: {image: "nope"}
"""


def by_name(images: list[Image]) -> dict[str, Image]:
    return {img.name: img for img in images}


def test_every_container_and_init_container_with_its_effective_policy() -> None:
    images = by_name(inventory(CRONJOB))
    assert sorted(images) == [
        "docker.io/library/busybox:latest",
        "docker.io/library/busybox:stable",
        "docker.io/osixia/openldap:1.5.0",
    ]
    (prep,) = images["docker.io/library/busybox:latest"].uses
    # no policy and a latest tag: Kubernetes pulls Always (defaults.go)
    assert prep == Use("CronJob", "nightly", "prep", True, ALWAYS, "")
    (run,) = images["docker.io/library/busybox:stable"].uses
    assert (run.init, run.pull_policy, run.declared) == (False, ALWAYS, ALWAYS)
    (agent,) = images["docker.io/osixia/openldap:1.5.0"].uses
    assert agent.pull_policy == IF_NOT_PRESENT and agent.declared == ""
    assert str(agent) == "DaemonSet/agent container a"
    assert {(img.short, u.container) for img, u in not_if_not_present(images.values())} == {
        ("busybox", "prep"),
        ("busybox", "run"),
    }


def hub_secret(values: dict[str, object], *, encoded: bool = True) -> str:
    text = yaml.safe_dump(values)
    body = (
        {"data": {"values.yaml": base64.b64encode(text.encode()).decode()}}
        if encoded
        else {"stringData": {"values.yaml": text}}
    )
    return yaml.safe_dump(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hub"}, **body}
    )


@pytest.mark.parametrize("encoded", [True, False])
def test_the_spawned_user_pod_images_come_from_the_hub_values(encoded: bool) -> None:
    values = {
        "singleuser": {
            "image": {"name": "registry.example/swan/systemuser", "tag": "v5", "pullPolicy": ""},
            "networkTools": {"image": {"name": "jupyterhub/k8s-network-tools", "tag": "1.2.0"}},
            "cloudMetadata": {"blockWithIptables": True},
            "profileList": [
                {
                    "display_name": "GPU",
                    "kubespawner_override": {"image": "registry.example/gpu:1"},
                },
                {"display_name": "plain"},
            ],
        },
        "hub": {
            "config": {"SwanSpawner": {"image": "registry.example/alt:2", "start_timeout": 60}}
        },
    }
    images = by_name(inventory(hub_secret(values, encoded=encoded)))
    assert sorted(images) == [
        "docker.io/jupyterhub/k8s-network-tools:1.2.0",
        "registry.example/alt:2",
        "registry.example/gpu:1",
        "registry.example/swan/systemuser:v5",
    ]
    (user,) = images["registry.example/swan/systemuser:v5"].uses
    assert (user.kind, user.container, user.origin, user.pull_policy) == (
        "UserPod",
        "notebook",
        SPAWNER,
        IF_NOT_PRESENT,
    )
    (tools,) = images["docker.io/jupyterhub/k8s-network-tools:1.2.0"].uses
    assert tools.init and tools.container == "block-cloud-metadata"
    # no iptables block: no network-tools init container
    values["singleuser"]["cloudMetadata"] = {"blockWithIptables": False}  # type: ignore[index]
    assert "docker.io/jupyterhub/k8s-network-tools:1.2.0" not in by_name(
        inventory(hub_secret(values))
    )


def test_ingress_images_are_digest_pinned_for_the_providers_mboxed_sets_up() -> None:
    images = by_name(inventory("", ingress_images("minikube")))
    assert sorted(images) == sorted([CONTROLLER, CERTGEN])
    assert all(not img.reference.floating and img.origins == {INGRESS} for img in images.values())
    assert len(images[CERTGEN].uses) == 2
    assert ingress_images("kind") == ingress_images("minikube")
    assert ingress_images("existing") == ()


def test_a_reference_kubernetes_would_refuse_names_the_workload() -> None:
    bad = "kind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: Bad/Name}]\n"
    with pytest.raises(InventoryError, match=r"Pod/p c: image 'Bad/Name'"):
        inventory(bad)


# --- real Helm on the model chart ----------------------------------------------------


def render_model(real_helm: Helm, tmp_path: Path, values: dict[str, object]) -> str:
    path = tmp_path / "values.json"
    path.write_text(json.dumps(values))
    renderer = write_post_renderer(
        tmp_path / "pr",
        make_config(
            {
                n: "x"
                for n in (
                    "reva_jwt_secret",
                    "ocis_transfer_secret",
                    "ocis_machine_auth_api_key",
                    "ldap_readonly_password",
                    "mariadb_root_password",
                    "swan_oidc_client_secret",
                    "supervisord_password",
                )
            },
            {"swan": True, "cernbox": True},
        ),
    )
    return real_helm.template(
        values=[path],
        post_renderer=renderer,
        extra=["--api-versions", "networking.k8s.io/v1/Ingress"],
    )


def test_model_chart_inventory_has_init_containers_jobs_and_the_spawner_image(
    real_helm: Helm, tmp_path: Path
) -> None:
    # the hook (z2jh's pre-puller) off, as mboxed installs: the user image is
    # then named only in the spawner's values
    rendered = render_model(
        real_helm, tmp_path, {"swan": {"jupyterhub": {"prePuller": {"hook": {"enabled": False}}}}}
    )
    images = by_name(inventory(rendered, ingress_images("kind")))
    user = images["gitlab-registry.cern.ch/swan/docker-images/systemuser:v5.14.1"]
    assert [u.origin for u in user.uses] == [SPAWNER]
    openldap = images["docker.io/osixia/openldap:1.5.0"]
    assert {(u.kind, u.container, u.init) for u in openldap.uses} == {
        ("StatefulSet", "openldap", False),
        ("Job", "ldap-instance-config", False),
    }
    busybox = images["docker.io/library/busybox:stable"]
    assert {(u.kind, u.container, u.init) for u in busybox.uses} == {
        ("Deployment", "cernbox-web-init", True)
    }
    eos = images["gitlab-registry.cern.ch/dss/eos/eos-all:5.0.31"]
    assert {u.kind for u in eos.uses} == {"StatefulSet", "Job"}
    assert "docker.io/jupyterhub/k8s-network-tools:1.2.0" in images
    assert CONTROLLER in images
    # the model's defaults pull Always (openldap, fst, the user pod)
    assert {(img.short, u.container) for img, u in not_if_not_present(images.values())} == {
        ("openldap", "openldap"),
        ("eos-all", "fst"),
        ("systemuser", "notebook"),
    }


def test_model_chart_with_the_pull_policy_values_pulls_nothing_always(
    real_helm: Helm, tmp_path: Path
) -> None:
    rendered = render_model(real_helm, tmp_path, values_overlay())
    images = inventory(rendered, ingress_images("minikube"))
    assert not_if_not_present(images) == []
    assert len(images) >= 8
