"""The workarounds of chart_fixes.py, rendered by real Helm v3.17.3 on the
project's model chart (tests/charts/sciencebox): mboxed's generated values
fix what the structures of the real chart 0.0.8 break, and the same values
without each fix still break it (so the model reproduces the defect)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mboxed.profile import load_profile
from mboxed.sciencebox import allocation, chart_fixes
from mboxed.sciencebox import secrets as sb_secrets
from mboxed.sciencebox import values as sv
from mboxed.sciencebox.manifests import documents, missing_volumes
from mboxed.sciencebox.release import normalise
from tests.helm import Helm

HOST = "box.example.org"


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    """What `mboxed up --profile demo` installs the chart with (normalised as
    the sciencebox step writes it)."""
    profile = load_profile("demo", overrides=[f"hostname={HOST}"]).profile
    users, groups = allocation.build_users(allocation.wanted_from_profile(profile.users))
    built = sv.build_values(profile, HOST, sb_secrets.complete({}), users, groups, None)
    result: dict[str, Any] = normalise(built)
    return result


def render_text(helm: Helm, tmp_path: Path, values: dict[str, Any]) -> str:
    path = tmp_path / "values.json"
    path.write_text(json.dumps(values))  # JSON is YAML, as mboxed writes its values
    return helm.template(values=[path])


def render(helm: Helm, tmp_path: Path, values: dict[str, Any]) -> list[Any]:
    return documents(render_text(helm, tmp_path, values))


def obj(docs: list[Any], kind: str, name: str) -> Any:
    return next(d.obj for d in docs if d.kind == kind and d.name == name)


def without_eos_fix(values: dict[str, Any]) -> dict[str, Any]:
    eos = {
        name: {k: v for k, v in part.items() if k != "persistence"}
        for name, part in values["eos"].items()
    }
    return {**values, "eos": eos}


def test_generated_values_give_eos_pods_their_volumes(
    real_helm: Helm, tmp_path: Path, generated: dict[str, Any]
) -> None:
    fixed = render_text(real_helm, tmp_path, generated)
    assert missing_volumes(fixed) == []
    fst = obj(documents(fixed), "StatefulSet", "sciencebox-fst")
    assert fst["metadata"]["annotations"]["mboxed.test/persistence"] == "disabled"
    assert {"name": "fst-storage", "emptyDir": {}} in fst["spec"]["template"]["spec"]["volumes"]
    # without it the utils 0.1.7 copy answers "false": a mount with no volume
    broken = render_text(real_helm, tmp_path, without_eos_fix(generated))
    assert [(m.name, m.volume) for m in missing_volumes(broken)] == [
        ("sciencebox-fst", "fst-storage")
    ]


def test_a_persistence_both_copies_read_alike_is_rendered(
    real_helm: Helm, tmp_path: Path, generated: dict[str, Any]
) -> None:
    pvc = {"type": "pvc", "enabled": "pvc", "size": "5Gi"}
    values = {**generated, "eos": {**generated["eos"], "fst": {"persistence": pvc}}}
    chart_fixes.check_eos_persistence(values)
    fst = obj(render(real_helm, tmp_path, values), "StatefulSet", "sciencebox-fst")
    assert [c["metadata"]["name"] for c in fst["spec"]["volumeClaimTemplates"]] == ["fst-storage"]


def test_generated_values_run_one_ldap_server_without_a_phantom_pull_secret(
    real_helm: Helm, tmp_path: Path, generated: dict[str, Any]
) -> None:
    ldap = obj(render(real_helm, tmp_path, generated), "StatefulSet", "sciencebox-ldap")
    assert ldap["spec"]["replicas"] == 1
    env = ldap["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "LDAP_REPLICATION", "value": "false"} in env
    # an empty name: the kubelet skips it without a warning
    assert ldap["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": None}]
    plain = {**generated, "ldap": {"persistence": generated["ldap"]["persistence"]}}
    ldap = obj(render(real_helm, tmp_path, plain), "StatefulSet", "sciencebox-ldap")
    assert ldap["spec"]["replicas"] == 3
    assert ldap["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "harbor"}]


def test_generated_values_render_no_hook(
    real_helm: Helm, tmp_path: Path, generated: dict[str, Any]
) -> None:
    def hooks(values: dict[str, Any]) -> list[str]:
        docs = render(real_helm, tmp_path, values)
        return [
            d.name for d in docs if "helm.sh/hook" in (d.obj["metadata"].get("annotations") or {})
        ]

    assert hooks(generated) == []
    swan = generated["swan"]["jupyterhub"]
    no_setting = {**swan, "prePuller": {}}
    assert hooks({**generated, "swan": {"jupyterhub": no_setting}}) == ["hook-image-awaiter"]
