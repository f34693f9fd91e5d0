"""mboxed.files: checksum files and atomic installs of verified files."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from mboxed.errors import MboxedError
from mboxed.files import (
    TMP_SUFFIX,
    InstallError,
    install_file,
    parse_checksum_file,
    place,
    write_atomic,
)

SHA = hashlib.sha256(os.urandom(64)).hexdigest()


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        (f"{SHA}\n", None, SHA),
        (f"{SHA}  tool-linux-amd64\n", "tool-linux-amd64", SHA),
        (f"{SHA} *tool-linux-amd64\n", "tool-linux-amd64", SHA),
        (f"{'a' * 64}  other\n{SHA}  dist/tool-linux-amd64\n", "tool-linux-amd64", SHA),
        (f"{SHA.upper()}\n", None, SHA),
    ],
)
def test_parse_checksum_file(text: str, name: str | None, expected: str) -> None:
    assert parse_checksum_file(text, name) == expected


def test_parse_checksum_file_rejects_text_without_a_sum() -> None:
    with pytest.raises(ValueError):
        parse_checksum_file("Not Found\n", "tool")


def tar_gz(members: dict[str, bytes]) -> bytes:
    """A .tar.gz of `members` (name -> bytes), as tool releases ship binaries."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_install_extracts_the_member_atomically_with_mode_0755(tmp_path: Path) -> None:
    archive = tmp_path / "helm.tgz"
    archive.write_bytes(tar_gz({"linux-amd64/helm": b"#!binary", "linux-amd64/LICENSE": b"x"}))
    dest = tmp_path / "bin" / "helm"
    install_file(archive, dest, "linux-amd64/helm")
    assert dest.read_bytes() == b"#!binary"
    assert dest.stat().st_mode & 0o777 == 0o755
    assert sorted(p.name for p in dest.parent.iterdir()) == ["helm"]


def test_install_of_a_missing_member_leaves_nothing(tmp_path: Path) -> None:
    archive = tmp_path / "helm.tgz"
    archive.write_bytes(tar_gz({"darwin-arm64/helm": b"#!binary"}))
    dest = tmp_path / "bin" / "helm"
    with pytest.raises(InstallError, match="has no file linux-amd64/helm"):
        install_file(archive, dest, "linux-amd64/helm")
    assert list(dest.parent.iterdir()) == []


def test_install_keeps_the_old_binary_until_the_new_one_is_whole(tmp_path: Path) -> None:
    archive = tmp_path / "broken.tgz"
    archive.write_bytes(b"\x1f\x8b not really gzip")
    dest = tmp_path / "bin" / "helm"
    dest.parent.mkdir()
    dest.write_bytes(b"old")
    with pytest.raises(InstallError, match="not a readable"):
        install_file(archive, dest, "linux-amd64/helm")
    assert dest.read_bytes() == b"old"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["helm"]


def test_write_atomic_gives_the_mode_and_leaves_no_temp_file(tmp_path: Path) -> None:
    dest = tmp_path / "d" / "secret.json"
    write_atomic(dest, b"old", 0o600)
    write_atomic(dest, b"new", 0o600)
    assert dest.read_bytes() == b"new"
    assert dest.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in dest.parent.iterdir()] == ["secret.json"]


def test_place_links_on_one_file_system(tmp_path: Path) -> None:
    source = tmp_path / "blob"
    source.write_bytes(b"x" * 100)
    place(source, tmp_path / "room" / "blob")
    placed = tmp_path / "room" / "blob"
    assert placed.read_bytes() == source.read_bytes()
    assert placed.stat().st_ino == source.stat().st_ino  # no second copy
    assert placed.stat().st_mode & 0o777 == 0o644


def test_place_copies_across_file_systems_and_refuses_a_changed_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cross_device(src: object, dst: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    source = tmp_path / "blob"
    source.write_bytes(b"payload")
    good = hashlib.sha256(b"payload").hexdigest()
    place(source, tmp_path / "copy", good)
    assert (tmp_path / "copy").read_bytes() == b"payload"
    assert (tmp_path / "copy").stat().st_ino != source.stat().st_ino
    with pytest.raises(MboxedError, match="changed it; refused"):
        place(source, tmp_path / "other", "0" * 64)
    assert not (tmp_path / "other").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(TMP_SUFFIX)]
