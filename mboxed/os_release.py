"""Which operating system this is: /etc/os-release (or macOS's `sw_vers`)
parsed, its package-manager family, and whether mboxed is meant for it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# ID / ID_LIKE values (os-release(5)) that name a package-manager family.
_DEBIAN_IDS = {"debian", "ubuntu", "linuxmint", "pop", "raspbian"}
_RHEL_IDS = {"fedora", "rhel", "centos", "rocky", "almalinux", "ol"}

# The oldest release of each distribution mboxed is meant for: the ones that
# ship a Docker engine and cgroup setup minikube/kind still support.
SUPPORTED: dict[str, tuple[int, ...]] = {
    "debian": (11,),
    "ubuntu": (20, 4),
    "fedora": (38,),
    "rhel": (8,),
    "centos": (9,),
    "rocky": (8,),
    "almalinux": (8,),
    "macos": (12,),
}


@dataclass(frozen=True)
class OsRelease:
    id: str
    version_id: str = ""
    id_like: tuple[str, ...] = ()
    pretty_name: str = ""

    @property
    def family(self) -> str:
        """debian | rhel | macos | other."""
        ids = {self.id, *self.id_like}
        if self.id == "macos":
            return "macos"
        if ids & _DEBIAN_IDS:
            return "debian"
        if ids & _RHEL_IDS:
            return "rhel"
        return "other"

    @property
    def version(self) -> tuple[int, ...]:
        parts: list[int] = []
        for piece in self.version_id.split("."):
            digits = "".join(ch for ch in piece if ch.isdigit())
            if not digits:
                break
            parts.append(int(digits))
        return tuple(parts)

    @property
    def label(self) -> str:
        return self.pretty_name or f"{self.id} {self.version_id}".strip()


def parse_os_release(text: str) -> OsRelease:
    """Parse /etc/os-release (KEY=value lines, values optionally quoted)."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value.replace('\\"', '"')
    return OsRelease(
        id=values.get("ID", "linux").lower(),
        version_id=values.get("VERSION_ID", ""),
        id_like=tuple(values.get("ID_LIKE", "").lower().split()),
        pretty_name=values.get("PRETTY_NAME", ""),
    )


def parse_sw_vers(text: str) -> OsRelease:
    """Parse macOS `sw_vers` output (ProductName / ProductVersion lines)."""
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        values[key.strip()] = value.strip()
    version = values.get("ProductVersion", "")
    return OsRelease(id="macos", version_id=version, pretty_name=f"macOS {version}".strip())


def os_supported(release: OsRelease) -> tuple[str, str]:
    """('ok'|'warn'|'fail', why)."""
    minimum = SUPPORTED.get(release.id)
    if minimum is None:
        for like in release.id_like:
            if like in SUPPORTED:
                return "warn", f"{release.label} is like {like}, not tested with mboxed"
        return "warn", f"{release.label} is not a distribution mboxed is tested on"
    if release.version and release.version < minimum:
        need = ".".join(str(n) for n in minimum)
        return "warn", f"{release.label} is older than {release.id} {need}"
    return "ok", release.label


def read_os_release(system: str, path: Path = Path("/etc/os-release")) -> OsRelease:
    """This host's release without running anything: os-release on Linux
    (id `system` when it is missing), just "macos" on a Mac."""
    if system == "darwin":
        return OsRelease(id="macos")
    try:
        return parse_os_release(path.read_text())
    except OSError:
        return OsRelease(id=system)
