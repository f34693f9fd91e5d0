"""Real Helm v3.17.3 on the project's model of the ScienceBox chart
(tests/charts/sciencebox): what Helm itself does with its structures, and
mboxed's post-renderer run by Helm for real."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mboxed.sciencebox.manifests import Document, documents
from mboxed.sciencebox.postrender import TEMPLATE_SECRETS, make_config, write_post_renderer
from tests.helm import MODEL_CHART, VERSION, Helm

HOOK = "sciencebox/charts/swan/charts/jupyterhub/templates/hook-image-puller.yaml"
HUB = "sciencebox/charts/swan/charts/jupyterhub/templates/hub.yaml"
CVMFS_CSI = "sciencebox/charts/swan/charts/cvmfs-csi/"
SEED_SCRIPT = "sciencebox/charts/ldap-instance-config/templates/configmap.yaml"


def by_source(rendered: str, source: str) -> list[Document]:
    return [d for d in documents(rendered) if d.source == source]


def write_values(tmp_path: Path, values: dict[str, object]) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(json.dumps(values))  # JSON is YAML, as mboxed writes its values
    return path


def recording_post_renderer(tmp_path: Path) -> tuple[Path, Path]:
    """A post-renderer that keeps what Helm handed it and moves every image
    from gitlab-registry.cern.ch to a mirror."""
    seen = tmp_path / "seen.yaml"
    script = tmp_path / "postrender"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "stream = sys.stdin.read()\n"
        f"open({str(seen)!r}, 'w').write(stream)\n"
        "sys.stdout.write(stream.replace('gitlab-registry.cern.ch/', 'mirror.test/'))\n"
    )
    script.chmod(0o755)
    return script, seen


def test_the_pinned_helm_is_the_one_the_tests_run(real_helm: Helm) -> None:
    assert real_helm.run(["version", "--template", "{{.Version}}"]).stdout == VERSION


def test_the_model_lints_clean_and_has_the_real_charts_structures(
    real_helm: Helm, tmp_path: Path
) -> None:
    lint = real_helm.run(["lint", "--strict", str(MODEL_CHART)])
    assert "1 chart(s) linted, 0 chart(s) failed" in lint.stdout
    values = write_values(tmp_path, {"ldap": {"persistence": {"enabled": True}}})
    docs = documents(real_helm.template(values=[values]))
    kinds = {(d.kind, d.name) for d in docs}
    assert ("Secret", "sciencebox-ldap") in kinds
    ldap = next(d.obj for d in docs if d.kind == "StatefulSet" and d.name == "sciencebox-ldap")
    # openldap's defaults: three replicas, a claim template, a pull secret nothing creates
    assert ldap["spec"]["replicas"] == 3
    assert [c["metadata"]["name"] for c in ldap["spec"]["volumeClaimTemplates"]] == ["data"]
    assert ldap["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "harbor"}]
    # the chart's own default secret survives unless values override it
    secret = next(d.obj for d in docs if d.kind == "Secret")
    assert secret["stringData"] == {"LDAP_ADMIN_PASSWORD": "Not@SecurePassw0rd"}
    seed = next(d.obj for d in docs if d.kind == "Job" and "ldap" in d.name)
    # a plain Job whose bash runs the script ConfigMap (tests/sciencebox/test_job_scripts.py)
    assert seed["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "/bin/bash",
        "/root/instance_config.sh",
    ]
    (hook,) = by_source(real_helm.template(), HOOK)
    assert hook.obj["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"


def test_a_component_off_by_condition_renders_nothing(real_helm: Helm, tmp_path: Path) -> None:
    off = real_helm.template()
    assert CVMFS_CSI not in off
    on = real_helm.template(
        values=[write_values(tmp_path, {"swan": {"cvmfs-csi": {"enabled": True}}})]
    )
    assert [d.kind for d in documents(on) if d.source.startswith(CVMFS_CSI)] == ["DaemonSet"]


def test_hooks_never_reach_the_post_renderer(real_helm: Helm, tmp_path: Path) -> None:
    script, seen = recording_post_renderer(tmp_path)
    rendered = real_helm.template(post_renderer=script)
    handed = seen.read_text()
    # Helm 3 (pkg/action/action.go renderResources) post-renders the manifest
    # only; hooks are split off before and printed after, untouched
    assert HUB in handed and "helm.sh/hook" not in handed and HOOK not in handed
    (hub,) = by_source(rendered, HUB)
    (hook,) = by_source(rendered, HOOK)
    image = "swan/docker-images/{}"
    assert hub.obj["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "mirror.test/" + image.format("jupyterhub:v1.23")
    )
    assert hook.obj["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "gitlab-registry.cern.ch/" + image.format("systemuser:v5.14.1")
    )


def test_mboxeds_post_renderer_run_by_helm_rewrites_but_cannot_drop_a_hook(
    real_helm: Helm, tmp_path: Path
) -> None:
    secrets = {name: f"generated-{name}" for _pattern, _literal, name in TEMPLATE_SECRETS}
    config = make_config(secrets, {"swan": False, "cernbox": True})
    renderer = write_post_renderer(tmp_path / "postrender", config)
    values = write_values(tmp_path, {"ldap-instance-config": {"ldifFiles": {"users.ldif": "x"}}})
    rendered = real_helm.template(values=[values], post_renderer=renderer)
    assert 'jwt_secret = "generated-reva_jwt_secret"' in rendered
    assert "POZSOrl" not in rendered
    (script,) = [d for d in by_source(rendered, SEED_SCRIPT) if d.name.endswith("-script")]
    assert "ldapadd -c -x -H $LDAP_URI" in script.obj["data"]["instance_config.sh"]
    # swan switched off: its manifests are dropped, but its hook is not (it
    # never went through the post-renderer); values must turn such hooks off
    assert by_source(rendered, HUB) == []
    assert [d.name for d in by_source(rendered, HOOK)] == ["hook-image-awaiter"]
    off = write_values(
        tmp_path, {"swan": {"jupyterhub": {"prePuller": {"hook": {"enabled": False}}}}}
    )
    assert by_source(real_helm.template(values=[off], post_renderer=renderer), HOOK) == []
