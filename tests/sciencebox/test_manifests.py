"""mboxed.sciencebox.manifests: volumeMounts without their volume, on hand-written
streams and on real `helm template` output of the project's model chart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mboxed.sciencebox.manifests import MissingVolume, documents, missing_volumes
from tests.helm import MODEL_CHART, Helm

FST = "sciencebox/charts/eos/charts/fst/templates/statefulset.yaml"


def test_a_mount_without_a_volume_is_found_with_its_workload_and_template() -> None:
    stream = """---
# Source: box/templates/web.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      initContainers:
        - name: fetch
          volumeMounts: [{name: assets, mountPath: /a}]
      containers:
        - name: nginx
          volumeMounts: [{name: assets, mountPath: /a}, {name: conf, mountPath: /c}]
      volumes: [{name: conf, configMap: {name: web}}]
"""
    assert missing_volumes(stream) == [
        MissingVolume("box/templates/web.yaml", "Deployment", "web", "fetch", "assets"),
        MissingVolume("box/templates/web.yaml", "Deployment", "web", "nginx", "assets"),
    ]
    assert str(missing_volumes(stream)[0]) == (
        "Deployment/web: container 'fetch' mounts volume 'assets', which its pod does not "
        "define (box/templates/web.yaml)"
    )


def test_a_statefulsets_claim_templates_are_its_volumes() -> None:
    stream = """---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  template:
    spec:
      containers: [{name: db, volumeMounts: [{name: data, mountPath: /d}]}]
  volumeClaimTemplates: [{metadata: {name: data}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: not-a-statefulset}
spec:
  template:
    spec:
      containers: [{name: c, volumeMounts: [{name: data, mountPath: /d}]}]
  volumeClaimTemplates: [{metadata: {name: data}}]
"""
    assert [(m.name, m.volume) for m in missing_volumes(stream)] == [("not-a-statefulset", "data")]


def test_pods_cronjobs_and_block_devices_are_checked_and_other_kinds_are_not() -> None:
    stream = """---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: c, volumeDevices: [{name: disk, devicePath: /dev/x}]}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cj}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: c, volumeMounts: [{name: tmp, mountPath: /t}]}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {volumeMounts: "not a pod"}
"""
    assert [(m.kind, m.volume) for m in missing_volumes(stream)] == [
        ("Pod", "disk"),
        ("CronJob", "tmp"),
    ]


def test_unknown_tags_load_as_plain_values_and_empty_documents_are_dropped() -> None:
    # EOS fst renders `!!integer 1`; a template that rendered nothing leaves
    # only its `# Source:` comment
    stream = (
        "---\n# Source: x/templates/empty.yaml\n"
        "---\n# Source: x/templates/fst.yaml\napiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: fst}\ndata: {EOS_SKIP_SSS_HOSTNAME_MATCH: !!integer 1}\n"
    )
    (doc,) = documents(stream)
    assert (doc.source, doc.kind, doc.name) == ("x/templates/fst.yaml", "ConfigMap", "fst")
    assert doc.obj["data"] == {"EOS_SKIP_SSS_HOSTNAME_MATCH": "1"}


def test_a_document_that_is_not_yaml_is_an_error_naming_its_template() -> None:
    with pytest.raises(ValueError, match=r"x/templates/bad\.yaml is not YAML"):
        documents("---\n# Source: x/templates/bad.yaml\nkind: [Pod\n")


# --- the template-name collision, with real Helm -------------------------------------


def test_the_utils_collision_leaves_fst_mounting_a_volume_it_lacks(real_helm: Helm) -> None:
    # Helm keeps one "utils.persistence" for the whole render: the 0.1.7 copy
    # (eos-instance-config's), which answers "false", where fst expects a type
    rendered = real_helm.template()
    fst = next(d for d in documents(rendered) if d.source == FST)
    assert fst.obj["metadata"]["annotations"]["mboxed.test/persistence"] == "false"
    assert missing_volumes(rendered) == [
        MissingVolume(FST, "StatefulSet", "sciencebox-fst", "fst", "fst-storage")
    ]
    # helm lint does not see it (as with the real chart 0.0.8)
    assert real_helm.run(["lint", str(MODEL_CHART)]).returncode == 0


@pytest.mark.parametrize(
    ("persistence", "volume"),
    [
        ({"type": "disabled", "enabled": "disabled"}, {"name": "fst-storage", "emptyDir": {}}),
        ({"type": "pvc", "enabled": "pvc"}, None),
    ],
)
def test_a_value_both_utils_read_alike_renders_the_volume(
    real_helm: Helm, tmp_path: Path, persistence: dict[str, str], volume: dict[str, object] | None
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(json.dumps({"eos": {"fst": {"persistence": persistence}}}))
    rendered = real_helm.template(values=[values])
    assert missing_volumes(rendered) == []
    fst = next(d for d in documents(rendered) if d.source == FST).obj
    if volume is None:  # pvc: one claim per ordinal, from the claim template
        assert fst["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "fst-storage"
    else:
        assert fst["spec"]["template"]["spec"]["volumes"] == [volume]


def test_only_one_of_the_two_answers_is_not_enough(real_helm: Helm, tmp_path: Path) -> None:
    # what utils 0.1.4 alone would need: the winning 0.1.7 copy ignores `type`
    values = tmp_path / "values.yaml"
    values.write_text(json.dumps({"eos": {"fst": {"persistence": {"type": "disabled"}}}}))
    assert [m.volume for m in missing_volumes(real_helm.template(values=[values]))] == [
        "fst-storage"
    ]
