"""What a room holds, read by byte range: the files of a mirror directory
(`DirectoryTree`), or the members of a bundle's tar (mboxed.bundle), both
seen as `Entry`s (a file, an offset, a size) by the room's server
(mboxed.mirror_server) — so a bundle is served without being unpacked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

CHUNK = 1 << 20


@dataclass(frozen=True)
class Entry:
    """A file of the tree: where its bytes are (a file and an offset in it)."""

    path: Path
    offset: int
    size: int
    mtime: float


class Tree(Protocol):
    """What the server reads from: a mirror directory, or a bundle's tar."""

    def lookup(self, rel: str) -> Entry | None: ...

    def names(self, rel_dir: str) -> list[str]: ...

    def repositories(self) -> list[str]: ...


class DirectoryTree:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def lookup(self, rel: str) -> Entry | None:
        parts = [p for p in rel.split("/") if p]
        if not parts or any(p in (".", "..") or p.startswith(".") for p in parts):
            return None  # no traversal, no temp files of a running `mboxed mirror`
        path = self.root.joinpath(*parts)
        try:
            stat = path.stat()
        except OSError:
            return None
        if not path.is_file():
            return None
        return Entry(path, 0, stat.st_size, stat.st_mtime)

    def names(self, rel_dir: str) -> list[str]:
        path = self.root / rel_dir
        if ".." in rel_dir.split("/") or not path.is_dir():
            return []
        return sorted(p.name for p in path.iterdir() if p.is_file() and not p.name.startswith("."))

    def repositories(self) -> list[str]:
        """Every repository under v2/ (a directory holding `manifests/`)."""
        v2 = self.root / "v2"
        found = v2.glob("**/manifests") if v2.is_dir() else iter(())
        return sorted(p.parent.relative_to(v2).as_posix() for p in found if p.is_dir())


def read_entry(entry: Entry, start: int = 0, length: int | None = None) -> bytes:
    with entry.path.open("rb") as handle:
        handle.seek(entry.offset + start)
        return handle.read(entry.size - start if length is None else length)


def sha256_entry(entry: Entry) -> str:
    hasher = hashlib.sha256()
    with entry.path.open("rb") as handle:
        handle.seek(entry.offset)
        left = entry.size
        while left:
            chunk = handle.read(min(CHUNK, left))
            if not chunk:
                break
            hasher.update(chunk)
            left -= len(chunk)
    return "sha256:" + hasher.hexdigest()
