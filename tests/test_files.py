"""mboxed.files: checksum files and atomic installs of verified files."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from mboxed.files import InstallError, install_file, parse_checksum_file

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
