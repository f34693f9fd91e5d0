"""What a running ScienceBox still fetches from the internet, which no image
in the room or bundle provides. `mboxed doctor` (and `mboxed images`) name
them, so that a room or an offline laptop knows what will not work.

Facts from the chart 0.0.8 (../shared/SCIENCEBOX.md, "Images", "CVMFS"):
- (no longer a need) cernbox-web's init container, as the chart sets it,
  `wget`s its web assets from github.com at every pod start; mboxed stores
  them in the cluster and replaces that init container
  (mboxed/sciencebox/web_assets.py, step `web-assets`): github.com (or the
  room, or the bundle) is needed once, at `up`, like every other download;
- SWAN's hub reads its help content from HELP_ENDPOINT on
  raw.githubusercontent.com;
- SWAN sessions read software from CVMFS (cvmfs-config.cern.ch, sft.cern.ch,
  sft-nightlies.cern.ch) on demand; a room squid helps
  (`swan.cvmfs.default_local.CVMFS_HTTP_PROXY`), and CVMFS works offline for
  what its cache holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NetworkNeed:
    component: str  # "cernbox", "swan"
    what: str
    hosts: tuple[str, ...]
    when: str
    without: str  # what breaks with no network
    remedy: str

    def line(self) -> str:
        return f"{self.what} ({', '.join(self.hosts)}, {self.when}): {self.without}; {self.remedy}"


NEEDS = (
    NetworkNeed(
        "swan",
        "SWAN help content (HELP_ENDPOINT)",
        ("raw.githubusercontent.com",),
        "when the SWAN help panel opens",
        "the help panel is empty",
        "harmless for notebooks",
    ),
    NetworkNeed(
        "swan",
        "CVMFS software repositories",
        ("cvmfs-config.cern.ch", "sft.cern.ch", "sft-nightlies.cern.ch"),
        "when a SWAN session loads software",
        "a session needing software not in the CVMFS cache fails",
        "a room squid as swan.cvmfs.default_local.CVMFS_HTTP_PROXY serves a classroom",
    ),
)


def runtime_needs(profile: Any) -> list[NetworkNeed]:
    """The needs of the components the profile enables."""
    components = profile.sciencebox.components
    enabled = {"cernbox": bool(components.cernbox), "swan": bool(components.swan)}
    return [need for need in NEEDS if enabled.get(need.component, True)]
