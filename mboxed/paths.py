"""Where mboxed keeps its files (DESIGN §4).

State: $XDG_STATE_HOME/mboxed/<deployment>/state.yaml, log beside it.
Cache: $XDG_CACHE_HOME/mboxed/. `MBOXED_HOME` overrides all roots.
Hosts file: /etc/hosts; `MBOXED_HOSTS_FILE` names another (tests point it at
a file of their own).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mboxed.errors import MboxedError

HOSTS_FILE = Path("/etc/hosts")

DEPLOYMENT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")


def check_deployment_name(name: str) -> str:
    if not DEPLOYMENT_NAME.match(name):
        raise MboxedError(
            f"--name {name!r} is not a valid deployment name",
            hint="use 1-40 lowercase letters, digits and '-', starting and ending "
            "with a letter or digit (it also names the cluster)",
        )
    return name


@dataclass(frozen=True)
class Paths:
    state_root: Path
    cache_root: Path
    bin_dir: Path
    hosts_file: Path = HOSTS_FILE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Paths:
        env = os.environ if env is None else env
        home = Path(env.get("HOME") or Path.home())
        hosts = Path(env.get("MBOXED_HOSTS_FILE") or HOSTS_FILE)
        if env.get("MBOXED_HOME"):
            root = Path(env["MBOXED_HOME"]).expanduser()
            return cls(root / "state", root / "cache", root / "bin", hosts)
        state = Path(env.get("XDG_STATE_HOME") or home / ".local" / "state")
        cache = Path(env.get("XDG_CACHE_HOME") or home / ".cache")
        is_root = hasattr(os, "geteuid") and os.geteuid() == 0
        bin_dir = Path("/usr/local/bin") if is_root else home / ".local" / "bin"
        return cls(state / "mboxed", cache / "mboxed", bin_dir, hosts)

    def deployment_dir(self, deployment: str) -> Path:
        return self.state_root / check_deployment_name(deployment)

    def state_file(self, deployment: str) -> Path:
        return self.deployment_dir(deployment) / "state.yaml"

    def log_file(self, deployment: str) -> Path:
        return self.deployment_dir(deployment) / "mboxed.log"

    def lock_file(self, deployment: str) -> Path:
        return self.deployment_dir(deployment) / "lock"

    def deployments(self) -> list[str]:
        if not self.state_root.is_dir():
            return []
        return sorted(p.parent.name for p in self.state_root.glob("*/state.yaml"))
