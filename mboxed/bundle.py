"""The offline bundle: one uncompressed tar holding a room mirror for one
profile and platform, served straight from the tar on a machine with no
network (`mboxed up --bundle FILE`).

Layout, in this order:

    BUNDLE.json                   format, profile, platforms (read first: a
                                  wrong-platform bundle is refused at once)
    room/<path>                   the room mirror's files (mboxed/mirror.py,
                                  mboxed/images/mirror.py): tools at their
                                  upstream paths, the chart and every image at
                                  their OCI paths (layers by digest)
    MANIFEST.json                 {"members": {name: {"sha256", "size"}}}

The manifest comes last because each sha256 is taken while the member streams
into the tar: nothing is held in memory and nothing is written twice. It is
uncompressed so that a member is a byte range of the file (image layers are
compressed already): `up --bundle` serves the room straight from those ranges
(mboxed.mirror_server over a TarTree) — the bundle is never unpacked. Clients
verify what they get as with any room: tools against their pinned sums, the
chart and every blob against their digests.

Before serving, every member is checked against the manifest (a corrupt,
truncated or foreign member is named); the verdict is remembered per file
identity (path, size, mtime, inode) so that a second `up --bundle` of the same
file reads nothing again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform as host_platform_module
import sys
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from mboxed.errors import MboxedError
from mboxed.room_tree import Entry, sha256_entry

FORMAT = 1
HEADER = "BUNDLE.json"
MANIFEST = "MANIFEST.json"
ROOM = "room/"
CHUNK = 1 << 20


def host_platform() -> str:
    """os/arch of this machine, in the names mboxed's downloads use."""
    machine = host_platform_module.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        machine, machine
    )
    return f"{'darwin' if sys.platform == 'darwin' else 'linux'}/{arch}"


# --- writing ------------------------------------------------------------------------


class _Hashing:
    """A file object that hashes what tarfile reads from it."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.hasher = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.hasher.update(data)
        return data


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 0  # the same inputs give the same bundle
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    import io

    tar.addfile(_info(name, len(data)), io.BytesIO(data))


def write_bundle(
    dest: Path,
    room: Path,
    files: Iterable[str],
    *,
    profile: str,
    platforms: list[str],
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Stream `files` (paths relative to the room mirror `room`) into the
    bundle at `dest`, atomically (a temp file beside it, renamed when whole)."""
    from mboxed import __version__

    header = {"format": FORMAT, "profile": profile, "platforms": platforms, "mboxed": __version__}
    members: dict[str, dict[str, Any]] = {}
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    try:
        with (
            tmp.open("wb") as out,
            tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            _add_bytes(tar, HEADER, json.dumps(header, indent=2).encode())
            for rel in sorted(set(files)):
                path = room / rel
                size = path.stat().st_size
                with path.open("rb") as handle:
                    hashing = _Hashing(handle)
                    tar.addfile(_info(ROOM + rel, size), hashing)
                members[ROOM + rel] = {"sha256": hashing.hasher.hexdigest(), "size": size}
                progress(f"bundled {rel}")
            manifest = {**header, "members": members}
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return manifest


# --- reading ------------------------------------------------------------------------


@dataclass
class Bundle:
    path: Path
    header: dict[str, Any]
    manifest: dict[str, Any]
    entries: dict[str, Entry]  # member name -> byte range in the file

    @property
    def profile(self) -> str:
        return str(self.header.get("profile", ""))


def _fail(path: Path, what: str, hint: str = "") -> MboxedError:
    return MboxedError(
        f"bundle {path}: {what}",
        hint=hint or "make the bundle again (`mboxed bundle FILE --profile P`) or copy it again",
    )


def _json_member(path: Path, entry: Entry | None, name: str) -> dict[str, Any]:
    if entry is None:
        raise _fail(path, f"member {name} is missing (a truncated or foreign file?)")
    with path.open("rb") as handle:
        handle.seek(entry.offset)
        data = handle.read(entry.size)
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or parsed.get("format") != FORMAT:
        raise _fail(path, f"member {name} is not an mboxed bundle header of format {FORMAT}")
    return parsed


def open_bundle(path: Path, platform: str | None = None) -> Bundle:
    """Index the bundle (headers only: the data is skipped, not read), check
    its platform, and find every member of its manifest."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise _fail(path, f"cannot read it: {exc.strerror or exc}") from None
    entries: dict[str, Entry] = {}
    last = "(none)"
    try:
        with tarfile.open(path, mode="r:") as tar:
            for member in tar:
                if member.isfile():
                    end = member.offset_data + member.size
                    if end > stat.st_size:
                        raise _fail(path, f"member {member.name} is truncated")
                    entries[member.name] = Entry(
                        path, member.offset_data, member.size, stat.st_mtime
                    )
                    last = member.name
    except tarfile.TarError as exc:
        raise _fail(path, f"not a readable tar after member {last}: {exc}") from None
    header = _json_member(path, entries.get(HEADER), HEADER)
    wanted = platform or host_platform()
    platforms = [str(p) for p in header.get("platforms") or []]
    if wanted not in platforms:
        raise _fail(
            path,
            f"it is for {', '.join(platforms) or 'no platform'}, not for this machine ({wanted})",
            hint=f"make a bundle with `mboxed bundle FILE --platform {wanted}`",
        )
    manifest = _json_member(path, entries.get(MANIFEST), MANIFEST)
    members = manifest.get("members")
    if not isinstance(members, dict):
        raise _fail(path, f"member {MANIFEST} lists no members")
    for name in members:
        if name not in entries:
            raise _fail(path, f"member {name} is missing (truncated after {last}?)")
    for name in entries:
        if name not in members and name not in (HEADER, MANIFEST):
            raise _fail(path, f"member {name} is not in its manifest; refused")
    return Bundle(path, header, manifest, entries)


def _identity(path: Path) -> str:
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ino}"
    return hashlib.sha256(key.encode()).hexdigest()


def verify_bundle(
    bundle: Bundle, marker_dir: Path, progress: Callable[[str], None] = lambda line: None
) -> bool:
    """Check every member against its sha256 and size. Returns False when the
    same file was verified before (nothing read), True when it was checked
    now. A mismatch names the member."""
    marker = marker_dir / f"{_identity(bundle.path)}.verified"
    manifest_sum = hashlib.sha256(json.dumps(bundle.manifest, sort_keys=True).encode())
    if marker.is_file() and marker.read_text().strip() == manifest_sum.hexdigest():
        return False
    members = bundle.manifest["members"]
    for name, expected in sorted(members.items(), key=lambda item: bundle.entries[item[0]].offset):
        entry = bundle.entries[name]
        if entry.size != int(expected.get("size", -1)):
            raise _fail(
                bundle.path, f"member {name} has {entry.size} bytes, not {expected['size']}"
            )
        actual = sha256_entry(entry).partition(":")[2]
        if actual != expected.get("sha256"):
            raise _fail(
                bundle.path,
                f"member {name} is corrupt: sha256 {actual}, the manifest says "
                f"{expected.get('sha256')}; nothing was loaded",
            )
        progress(f"verified {name}")
    marker_dir.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(manifest_sum.hexdigest() + "\n")
    os.replace(tmp, marker)
    return True


class TarTree:
    """The room inside a bundle, for mboxed.mirror_server."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self._dirs: dict[str, list[str]] = {}
        for name in bundle.manifest["members"]:
            rel = name.removeprefix(ROOM)
            parent, _, leaf = rel.rpartition("/")
            self._dirs.setdefault(parent, []).append(leaf)

    def lookup(self, rel: str) -> Entry | None:
        if ".." in rel.split("/"):
            return None
        name = ROOM + rel.strip("/")
        if name not in self.bundle.manifest["members"]:
            return None
        return self.bundle.entries.get(name)

    def names(self, rel_dir: str) -> list[str]:
        return sorted(self._dirs.get(rel_dir.strip("/"), []))

    def repositories(self) -> list[str]:
        return sorted(
            parent.removeprefix("v2/").removesuffix("/manifests")
            for parent in self._dirs
            if parent.startswith("v2/") and parent.endswith("/manifests")
        )


def serve_bundle(
    path: Path,
    marker_dir: Path,
    bind: str,
    progress: Callable[[str], None] = lambda line: None,
    platform: str | None = None,
) -> Any:
    """Open, verify (once per file) and serve the bundle's room on `bind`
    (a free port): the RoomServer, started; stop() it when done."""
    from mboxed.mirror_server import RoomServer

    bundle = open_bundle(path, platform)
    if verify_bundle(bundle, marker_dir, progress):
        progress(f"bundle {path}: every member verified")
    else:
        progress(f"bundle {path}: verified before, unchanged")
    # The same port as last time when it is free: the nodes' hosts.toml name
    # the room's URL, and a second `up --bundle` should find them as they are.
    port_file = marker_dir / "port"
    try:
        last = int(port_file.read_text().strip())
    except (OSError, ValueError):
        last = 0
    try:
        room = RoomServer(TarTree(bundle), bind, last, verified=True)
    except MboxedError:
        room = RoomServer(TarTree(bundle), bind, 0, verified=True)
    marker_dir.mkdir(parents=True, exist_ok=True)
    port_file.write_text(f"{room.port}\n")
    return room.start()
