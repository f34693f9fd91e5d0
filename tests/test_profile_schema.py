from __future__ import annotations

import pytest
from pydantic import ValidationError

from mboxed.profile_schema import Profile, size_mib


def test_sizes() -> None:
    assert size_mib("8g") == 8192 and size_mib("4096m") == 4096 and size_mib("2GiB") == 2048


def test_a_size_without_a_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="not a size"):
        size_mib("8")


def test_the_defaults_are_a_valid_profile_and_sizes_are_normalised() -> None:
    profile = Profile.model_validate({"provider": {"memory": "8Gi"}})
    assert profile.provider.name == "minikube" and profile.provider.memory == "8g"
    assert profile.sciencebox.release == "sciencebox"


def test_the_models_forbid_unknown_keys() -> None:
    with pytest.raises(ValidationError, match="extra"):
        Profile.model_validate({"provider": {"cpu": 4}})


def test_the_section_hash_changes_with_the_section_only() -> None:
    base = Profile()
    more_cpus = Profile.model_validate({"provider": {"cpus": 8}})
    assert base.section_hash("provider") != more_cpus.section_hash("provider")
    assert base.section_hash("users") == more_cpus.section_hash("users")
