from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mboxed.errors import MboxedError
from mboxed.paths import Paths, check_deployment_name
from tests.cli.run import REPO, mboxed


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


# --- mboxed's own files, refused by the OS: one line, what to do, no traceback ---

NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory another user can reach (tmp_path's parents are root's, 0700)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("running as another user needs root and setpriv")
    path = Path(tempfile.mkdtemp(prefix="mboxed-shared-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def as_nobody(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NOBODY, sys.executable, "-m", "mboxed", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "MBOXED_HOME": str(home)},
        timeout=60,
    )


def one_clear_error(result: subprocess.CompletedProcess[str], first: str) -> None:
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"error: {first}"), result.stderr
    assert "\nhint: " in result.stderr
    assert "Traceback" not in result.stderr and "bug" not in result.stderr


def test_mboxed_home_that_is_a_file(tmp_path: Path) -> None:
    home = tmp_path / "mboxed-home"
    home.write_text("not a directory\n")
    result = mboxed("up", "--only", "secrets", "--yes", env={"MBOXED_HOME": str(home)})
    one_clear_error(result, f"cannot open the log file {home}/state/default/mboxed.log")
    assert "Not a directory (ENOTDIR)" in result.stderr and "MBOXED_HOME" in result.stderr
    assert home.read_text() == "not a directory\n"


def test_mboxed_home_that_is_not_writable(shared_dir: Path) -> None:
    result = as_nobody(shared_dir, "up", "--only", "secrets", "--yes")
    one_clear_error(result, "cannot open the log file")
    assert "Permission denied (EACCES)" in result.stderr
    assert f'sudo chown -R "$USER" {shared_dir}\n' in result.stderr


def test_a_state_made_by_sudo_is_unreadable_not_corrupt(shared_dir: Path) -> None:
    made = mboxed("up", "--only", "secrets", "--yes", env={"MBOXED_HOME": str(shared_dir)})
    assert made.returncode == 0, made.stderr
    deployment = shared_dir / "state" / "default"
    for path in (shared_dir / "state", deployment):
        path.chmod(0o755)  # what root's umask leaves; the files stay 0600
    state = deployment / "state.yaml"
    before = state.read_bytes()
    for command in (["up", "--only", "secrets", "--yes"], ["status"], ["users", "list"]):
        result = as_nobody(shared_dir, *command)
        one_clear_error(result, f"cannot read the state file {state}: Permission denied")
        assert "corrupt" not in result.stderr and "mv " not in result.stderr
        assert f'sudo chown -R "$USER" {deployment}\n' in result.stderr
    assert state.read_bytes() == before


def test_a_lock_file_replaced_by_a_directory(tmp_path: Path) -> None:
    lock = Path(os.environ["MBOXED_HOME"]) / "state" / "default" / "lock"
    lock.mkdir(parents=True)
    result = mboxed("up", "--only", "secrets", "--yes")
    one_clear_error(result, f"cannot open the lock file {lock}: Is a directory (EISDIR)")
    assert f"hint: {lock} is a directory where mboxed keeps a file: move it aside" in result.stderr


def test_a_name_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(MboxedError, match="is not a valid deployment name"):
        check_deployment_name("x\n")
