"""Packaging shim: the shipped profiles live in top-level profiles/ and are
installed inside the package as mboxed/profiles/ so `pip install .` carries them."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithProfiles(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "mboxed" / "profiles"
        target.mkdir(parents=True, exist_ok=True)
        for profile in sorted(Path(__file__).parent.joinpath("profiles").glob("*.yaml")):
            shutil.copy2(profile, target / profile.name)


setup(cmdclass={"build_py": BuildWithProfiles})
