"""Test-wide guards: no test may touch the real home or the real mboxed state,
and no test may talk to anything but loopback.

Every test gets HOME, XDG_* and MBOXED_HOME under its own tmp_path, and an
audit hook fails any test that opens a file for writing under the real home,
or opens anything under the real mboxed state/cache directories.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helm import Helm, absent_reason, real_helm_path
from tests.netguard import guard as netguard

REAL_HOME = Path(os.path.expanduser("~")).resolve()
REAL_STATE = [
    REAL_HOME / ".local" / "state" / "mboxed",
    REAL_HOME / ".cache" / "mboxed",
]
# Where this interpreter, its venv and the checkout live: reading and
# byte-compiling there is the test run itself, not a test touching home.
ALLOWED_WRITES = [
    Path(sys.prefix).resolve(),
    Path(__file__).resolve().parent.parent,
    Path(sys.base_prefix).resolve(),
]

_guard = {"active": False}


def _audit(event: str, args: tuple[object, ...]) -> None:
    if not _guard["active"] or event != "open":
        return
    path, mode = args[0], args[1]
    if not isinstance(path, str | bytes | os.PathLike):
        return
    try:
        resolved = Path(os.fsdecode(path)).resolve()
    except (OSError, ValueError):
        return
    for forbidden in REAL_STATE:
        if resolved.is_relative_to(forbidden):
            _guard["active"] = False
            raise RuntimeError(f"test touched the real mboxed state: {resolved}")
    writing = isinstance(mode, str) and any(c in mode for c in "wax+")
    if writing and resolved.is_relative_to(REAL_HOME):
        if any(resolved.is_relative_to(ok) for ok in ALLOWED_WRITES):
            return
        _guard["active"] = False
        raise RuntimeError(f"test wrote under the real home directory: {resolved}")


sys.addaudithook(_audit)

NETGUARD_DIR = Path(__file__).resolve().parent / "netguard"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("MBOXED_HOME", str(tmp_path / "mboxed-home"))
    monkeypatch.delenv("MBOXED_MIRROR", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    # Loopback only, here and in every Python subprocess (tests/netguard/).
    netlog = tmp_path / "netguard.log"
    monkeypatch.setenv("MBOXED_TEST_NETGUARD_LOG", str(netlog))
    pythonpath = os.environ.get("PYTHONPATH")
    monkeypatch.setenv(
        "PYTHONPATH", str(NETGUARD_DIR) + (os.pathsep + pythonpath if pythonpath else "")
    )
    netguard.install(str(netlog))
    _guard["active"] = True
    try:
        yield home
    finally:
        _guard["active"] = False
        netguard.suspend()
    if netlog.exists():
        pytest.fail("the test left loopback:\n" + netlog.read_text(), pytrace=False)


@pytest.fixture
def real_helm(tmp_path: Path) -> Helm:
    """The pinned real Helm (tests/helm.py). Absent: skip, but fail under
    CI=true, where .ci/run and scripts/test must have installed it."""
    path = real_helm_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but " + absent_reason(), pytrace=False)
        pytest.skip(absent_reason())
    return Helm(path, tmp_path / "helm-home")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_helm: runs the pinned real Helm (tests/helm.py)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # `pytest -m real_helm --co -q` counts the tests that run real Helm
    for item in items:
        if "real_helm" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.real_helm)


@pytest.fixture(scope="session")
def private_dockerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real dockerd of the tests' own (tests/services/dockerd.py); skips
    without root or dockerd."""
    from tests.services import dockerd

    why = dockerd.available()
    if why:
        pytest.skip(why)
    with dockerd.running_dockerd(tmp_path_factory.mktemp("dockerd")) as daemon:
        yield daemon


@pytest.fixture(scope="session")
def image_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real docker-registry on loopback to push test images to
    (tests/services/registry.py); skips without docker-registry."""
    from tests.sciencebox.registry import REGISTRY_BIN
    from tests.services.registry import running_registry

    if REGISTRY_BIN is None:
        pytest.skip("docker-registry is not installed (Debian package docker-registry)")
    with running_registry(tmp_path_factory.mktemp("image-registry"), token_auth=False) as reg:
        yield reg
