"""Files that must be whole and exact: the sha256 of a file, the sum a
published checksum file holds, and putting a verified file at its final path
atomically (a temp file beside it, then os.replace), so that a broken run
never leaves a half file where a whole one is expected.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mboxed.errors import MboxedError

# The temp files `replacing` makes are named `.<dest name>.<random>` + TMP_SUFFIX:
# mboxed.mirror sweeps what a killed run left by this pattern.
TMP_SUFFIX = ".mboxed-tmp"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class InstallError(MboxedError):
    """A verified file could not be put in place (its archive lacks the member)."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def parse_checksum_file(text: str, filename: str | None = None) -> str:
    """`<hex>` or `<hex>  <name>` lines (sha256sum format) -> the hex sum."""
    candidates: list[tuple[str, str]] = []
    for line in text.splitlines():
        fields = line.strip().split()
        if not fields:
            continue
        digest = fields[0].lower()
        if _HEX64.match(digest):
            name = fields[1].lstrip("*") if len(fields) > 1 else ""
            candidates.append((digest, name))
    if filename is not None:
        for digest, name in candidates:
            if name and os.path.basename(name) == filename:
                return digest
    if len(candidates) == 1 or (candidates and filename is None):
        return candidates[0][0]
    raise ValueError("no sha256 sum in the checksum file")


@contextlib.contextmanager
def replacing(dest: Path, mode: int) -> Iterator[Path]:
    """A temp path beside `dest` to write; on a clean exit it gets `mode` and
    replaces `dest` (os.replace: atomic on one file system), on any failure
    it is removed and `dest` is left as it was."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=TMP_SUFFIX, dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(dest: Path, data: bytes, mode: int = 0o644) -> None:
    """`data` at `dest` with `mode`, fsynced and renamed into place: a reader
    sees the old file or the new one, never a part. The temp file is 0600
    from its creation, so a secret is never readable by others meanwhile."""
    with replacing(dest, mode) as tmp, tmp.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def place(source: Path, dest: Path, sha256: str | None = None) -> None:
    """Put `source` at `dest` (mode 0644) atomically: a hard link where both are
    on one file system (no second copy of a large file), else a copy, which
    is checked against `sha256` when one is given."""
    with replacing(dest, 0o644) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
            if sha256 is not None and sha256_of(tmp) != sha256:
                raise MboxedError(f"copying {source} to {dest} changed it; refused") from None


def install_file(source: Path, dest: Path, member: str | None = None) -> None:
    """Put the verified `source` (or one member of the .tar.gz) at `dest`,
    mode 0755, atomically."""
    with replacing(dest, 0o755) as tmp:
        if member is None:
            shutil.copyfile(source, tmp)
        else:
            tmp.write_bytes(_tar_member(source, member))


def _tar_member(archive: Path, member: str) -> bytes:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            info = tar.getmember(member)
            if not info.isfile():
                raise KeyError(member)
            handle = tar.extractfile(info)
            if handle is None:
                raise KeyError(member)
            with handle:
                return handle.read()
    except KeyError:
        raise InstallError(
            f"{archive} has no file {member}",
            hint="the archive's layout changed; this mboxed cannot install it",
        ) from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise InstallError(f"{archive} is not a readable .tar.gz: {exc}") from None
