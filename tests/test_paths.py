from __future__ import annotations

from pathlib import Path

import pytest

from mboxed.errors import MboxedError
from mboxed.paths import Paths, check_deployment_name


def test_xdg_directories_are_honoured(tmp_path: Path) -> None:
    paths = Paths.from_env({"HOME": str(tmp_path), "XDG_STATE_HOME": "/s", "XDG_CACHE_HOME": "/c"})
    assert paths.state_file("lab") == Path("/s/mboxed/lab/state.yaml")
    assert paths.log_file("lab") == Path("/s/mboxed/lab/mboxed.log")
    assert paths.cache_root == Path("/c/mboxed")


def test_defaults_under_home(tmp_path: Path) -> None:
    paths = Paths.from_env({"HOME": str(tmp_path)})
    assert paths.state_root == tmp_path / ".local" / "state" / "mboxed"
    assert paths.cache_root == tmp_path / ".cache" / "mboxed"


def test_mboxed_home_overrides_every_root(tmp_path: Path) -> None:
    paths = Paths.from_env({"HOME": "/nowhere", "MBOXED_HOME": str(tmp_path)})
    assert (paths.state_root, paths.cache_root, paths.bin_dir) == (
        tmp_path / "state",
        tmp_path / "cache",
        tmp_path / "bin",
    )


@pytest.mark.parametrize("name", ["default", "lab-1", "a", "x" * 40])
def test_good_deployment_names(name: str) -> None:
    assert check_deployment_name(name) == name


@pytest.mark.parametrize("name", ["", "Lab", "-x", "x-", "a_b", "../etc", "x" * 41])
def test_bad_deployment_names_are_refused(name: str) -> None:
    with pytest.raises(MboxedError, match="not a valid deployment name"):
        check_deployment_name(name)


def test_deployments_lists_those_with_state(tmp_path: Path) -> None:
    paths = Paths.from_env({"MBOXED_HOME": str(tmp_path)})
    for name in ("b", "a"):
        paths.state_file(name).parent.mkdir(parents=True)
        paths.state_file(name).write_text("schema: 1\nsteps: {}\n")
    paths.deployment_dir("empty").mkdir()
    assert paths.deployments() == ["a", "b"]


def test_the_hosts_file_is_etc_hosts_unless_mboxed_hosts_file_names_another(
    tmp_path: Path,
) -> None:
    assert Paths.from_env({"HOME": str(tmp_path)}).hosts_file == Path("/etc/hosts")
    hosts = tmp_path / "hosts"
    for env in ({"HOME": str(tmp_path)}, {"MBOXED_HOME": str(tmp_path)}):
        assert Paths.from_env({**env, "MBOXED_HOSTS_FILE": str(hosts)}).hosts_file == hosts
