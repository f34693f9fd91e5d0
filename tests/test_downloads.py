"""Downloads against a real HTTP server on 127.0.0.1 (reached through the
mirror option): good files, wrong checksums, truncated bodies, dropped
connections, slow answers, 404s and 5xx; plus the pinned table itself."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from urllib3.exceptions import NameResolutionError

from mboxed.download_failures import DownloadError
from mboxed.downloads import Downloader, check_mirror, mirrored
from mboxed.errors import MboxedError
from mboxed.pins import PINNED, Release
from tests.file_server import FileServer

BODY = os.urandom(300_000)
SHA = hashlib.sha256(BODY).hexdigest()
PATH = "/dl/v9.9.9/tool-linux-amd64"


def release(sha: str | None = SHA, checksum_ext: str = ".sha256sum") -> Release:
    return Release(
        tool="tool",
        version="v9.9.9",
        url="https://downloads.example.org/dl/{version}/tool-{os}-{arch}",
        checksum_url="https://downloads.example.org/dl/{version}/tool-{os}-{arch}" + checksum_ext,
        sha256={"linux/amd64": sha} if sha else {},
    )


@pytest.fixture
def server() -> Iterator[FileServer]:
    with FileServer() as srv:
        yield srv


def downloader(tmp_path: Path, server: FileServer, **kwargs: Any) -> Downloader:
    options: dict[str, Any] = {"wait": 0.05, "max_wait": 0.2, "read_timeout": 5.0}
    options.update(kwargs)
    return Downloader(tmp_path / "cache", mirror=server.url, **options)


def cache_files(tmp_path: Path) -> list[str]:
    root = tmp_path / "cache" / "downloads"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


# --- good files and the cache --------------------------------------------------------


def test_good_file_is_verified_and_cached_by_sha256(tmp_path: Path, server: FileServer) -> None:
    server.add(PATH, BODY)
    got = downloader(tmp_path, server).fetch(release(), "linux/amd64")
    assert got == tmp_path / "cache" / "downloads" / SHA
    assert got.read_bytes() == BODY
    assert server.hits(PATH) == [None]


def test_second_fetch_is_a_cache_hit_without_any_request(
    tmp_path: Path, server: FileServer
) -> None:
    server.add(PATH, BODY)
    downloader(tmp_path, server).fetch(release(), "linux/amd64")
    downloader(tmp_path, server).fetch(release(), "linux/amd64")
    assert len(server.requests) == 1


def test_damaged_cache_entry_is_downloaded_again(tmp_path: Path, server: FileServer) -> None:
    server.add(PATH, BODY)
    cached = tmp_path / "cache" / "downloads" / SHA
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"bit rot")
    got = downloader(tmp_path, server).fetch(release(), "linux/amd64")
    assert got.read_bytes() == BODY
    assert len(server.requests) == 1


def test_progress_is_reported_in_steps(tmp_path: Path, server: FileServer) -> None:
    server.add(PATH, BODY)
    seen: list[str] = []
    downloader(tmp_path, server, progress=seen.append).fetch(release(), "linux/amd64")
    assert seen and seen[-1] == "tool v9.9.9: 100%"


# --- checksums -----------------------------------------------------------------------


def test_wrong_checksum_fails_and_leaves_nothing(tmp_path: Path, server: FileServer) -> None:
    server.add(PATH, b"not the file upstream published" * 100)
    with pytest.raises(DownloadError) as caught:
        downloader(tmp_path, server).fetch(release(), "linux/amd64")
    assert "checksum mismatch" in caught.value.message
    assert SHA in caught.value.message
    assert "not installed" in caught.value.hint
    assert cache_files(tmp_path) == []
    # one fresh download from scratch before calling it a mismatch
    assert server.hits(PATH) == [None, None]


def test_sum_from_published_checksum_file_in_sha256sum_format(
    tmp_path: Path, server: FileServer
) -> None:
    server.add(PATH, BODY)
    server.add(PATH + ".sha256sum", f"{SHA}  tool-linux-amd64\n".encode())
    got = downloader(tmp_path, server).fetch(release(sha=None), "linux/amd64")
    assert got.read_bytes() == BODY
    assert [p for p, _ in server.requests] == [PATH + ".sha256sum", PATH]


def test_a_verified_published_sum_lets_the_cache_work_offline(
    tmp_path: Path, server: FileServer
) -> None:
    server.add(PATH, BODY)
    server.add(PATH + ".sha256sum", f"{SHA}  tool-linux-amd64\n".encode())
    downloader(tmp_path, server).fetch(release(sha=None), "linux/amd64")
    server.files.clear()  # the mirror (or the network) is gone
    got = downloader(tmp_path, server).fetch(release(sha=None), "linux/amd64")
    assert got.read_bytes() == BODY
    assert len(server.requests) == 2  # nothing asked the second time


def test_sum_from_a_bare_hex_checksum_file_like_kubectls(
    tmp_path: Path, server: FileServer
) -> None:
    server.add(PATH, BODY)
    server.add(PATH + ".sha256", f"{SHA}\n".encode())
    got = downloader(tmp_path, server).fetch(release(None, ".sha256"), "linux/amd64")
    assert got.read_bytes() == BODY


def test_published_sum_that_disagrees_with_the_file_blocks_it(
    tmp_path: Path, server: FileServer
) -> None:
    server.add(PATH, BODY)
    server.add(PATH + ".sha256sum", f"{'0' * 64}  tool-linux-amd64\n".encode())
    with pytest.raises(DownloadError, match="checksum mismatch"):
        downloader(tmp_path, server).fetch(release(sha=None), "linux/amd64")
    assert cache_files(tmp_path) == []


def test_missing_checksum_file_is_an_error_not_a_skip(tmp_path: Path, server: FileServer) -> None:
    server.add(PATH, BODY)
    with pytest.raises(DownloadError, match=r"HTTP 404"):
        downloader(tmp_path, server).fetch(release(sha=None), "linux/amd64")
    assert PATH not in [p for p, _ in server.requests]  # the file itself was never fetched


def test_checksum_file_without_a_sum_is_an_error(tmp_path: Path, server: FileServer) -> None:
    server.add(PATH, BODY)
    server.add(PATH + ".sha256sum", b"<html>rate limited</html>\n")
    with pytest.raises(DownloadError, match="holds no sha256 sum"):
        downloader(tmp_path, server).fetch(release(sha=None), "linux/amd64")


def test_upstream_checksum_over_plain_http_is_refused(tmp_path: Path) -> None:
    plain = Release("tool", "v1", "http://x.example/{os}", "http://x.example/{os}.sha256")
    with pytest.raises(DownloadError, match="plain HTTP"):
        Downloader(tmp_path).expected_sha256(plain, "linux/amd64")


# --- bad networks ---------------------------------------------------------------------


def test_dropped_connection_is_resumed_with_range(tmp_path: Path, server: FileServer) -> None:
    server.add(PATH, BODY, faults=["drop"])
    got = downloader(tmp_path, server).fetch(release(), "linux/amd64")
    assert got.read_bytes() == BODY
    first, second = server.hits(PATH)
    assert first is None
    # resumed from what reached the disk (whole chunks before the cut)
    assert second is not None
    resumed_at = int(second.removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= len(BODY) // 2


def test_truncated_bodies_are_resumed_until_complete(tmp_path: Path, server: FileServer) -> None:
    server.add(PATH, BODY, sticky="trickle:100000")
    got = downloader(tmp_path, server).fetch(release(), "linux/amd64")
    assert got.read_bytes() == BODY
    hits = server.hits(PATH)
    assert hits[0] is None and len(hits) >= 3
    starts = [int(h.removeprefix("bytes=").rstrip("-")) for h in hits[1:] if h]
    assert starts == sorted(starts) and starts[0] > 0  # every attempt went further


def test_partial_file_of_an_interrupted_run_is_resumed(tmp_path: Path, server: FileServer) -> None:
    server.add(PATH, BODY)
    part = tmp_path / "cache" / "downloads" / f"{SHA}.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(BODY[:123_456])
    got = downloader(tmp_path, server).fetch(release(), "linux/amd64")
    assert got.read_bytes() == BODY
    assert server.hits(PATH) == ["bytes=123456-"]
    assert not part.exists()


def test_server_ignoring_range_starts_over(tmp_path: Path, server: FileServer) -> None:
    server.add(PATH, BODY, faults=["drop", "ignore-range"])
    got = downloader(tmp_path, server).fetch(release(), "linux/amd64")
    assert got.read_bytes() == BODY


def test_body_cut_short_without_length_is_caught_by_the_checksum(
    tmp_path: Path, server: FileServer
) -> None:
    server.add(PATH, BODY, faults=["nolength"])
    got = downloader(tmp_path, server).fetch(release(), "linux/amd64")
    assert got.read_bytes() == BODY
    assert server.hits(PATH) == [None, None]


def test_slow_answer_past_the_read_timeout_is_retried(tmp_path: Path, server: FileServer) -> None:
    server.add(PATH, BODY, faults=["slow:1.5"])
    started = time.monotonic()
    got = downloader(tmp_path, server, read_timeout=0.5).fetch(release(), "linux/amd64")
    assert got.read_bytes() == BODY
    assert len(server.hits(PATH)) == 2
    assert time.monotonic() - started < 5


def test_a_host_that_never_answers_is_reported_with_the_read_timeout(
    tmp_path: Path, server: FileServer
) -> None:
    server.add(PATH, BODY, sticky="slow:1.5")
    loader = downloader(tmp_path, server, read_timeout=0.3, attempts=2, connect_timeout=7.0)
    with pytest.raises(DownloadError) as caught:
        loader.fetch(release(), "linux/amd64")
    assert "did not answer within 0.3s" in caught.value.message  # not the 7s connect timeout
    assert "failed after 2 attempts" in caught.value.message


def test_slow_answer_within_the_timeout_is_just_waited_for(
    tmp_path: Path, server: FileServer
) -> None:
    server.add(PATH, BODY, faults=["slow:0.3"])
    got = downloader(tmp_path, server, read_timeout=3).fetch(release(), "linux/amd64")
    assert got.read_bytes() == BODY
    assert len(server.hits(PATH)) == 1


def test_404_fails_at_once_with_what_and_what_to_do(tmp_path: Path, server: FileServer) -> None:
    with pytest.raises(DownloadError) as caught:
        downloader(tmp_path, server).fetch(release(), "linux/amd64")
    message = caught.value.message
    assert message == f"cannot download {server.url}{PATH}: HTTP 404 Not Found"
    assert "\n" not in message
    assert f"mirror {server.url}" in caught.value.hint
    assert len(server.requests) == 1
    assert cache_files(tmp_path) == []


def test_server_errors_are_retried_a_bounded_number_of_times(
    tmp_path: Path, server: FileServer
) -> None:
    server.add(PATH, BODY, sticky="500")
    with pytest.raises(DownloadError, match=r"failed after 3 attempts.*HTTP 500"):
        downloader(tmp_path, server, attempts=3).fetch(release(), "linux/amd64")
    assert len(server.hits(PATH)) == 3


def test_one_server_error_then_success(tmp_path: Path, server: FileServer) -> None:
    server.add(PATH, BODY, faults=["500"])
    got = downloader(tmp_path, server).fetch(release(), "linux/amd64")
    assert got.read_bytes() == BODY


def test_refused_connection_fails_within_seconds(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    loader = Downloader(tmp_path / "cache", mirror=f"http://127.0.0.1:{port}", wait=0.05)
    with pytest.raises(DownloadError) as caught:
        loader.fetch(release(), "linux/amd64")
    assert time.monotonic() - started < 5
    assert "connection refused" in caught.value.message
    assert caught.value.message.count("\n") == 0
    assert cache_files(tmp_path) == []


class _NoDNS(BaseAdapter):
    """A transport that fails the way urllib3 does when a name does not
    resolve (without sending a DNS query from the test)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        self.calls += 1
        cause = NameResolutionError(
            "get.helm.sh",
            None,  # type: ignore[arg-type]
            socket.gaierror(-2, "Name or service not known"),
        )
        raise requests.exceptions.ConnectionError(cause, request=request)

    def close(self) -> None:
        pass


def test_unresolvable_host_is_permanent_one_line_and_fast(tmp_path: Path) -> None:
    session = requests.Session()
    adapter = _NoDNS()
    session.mount("https://", adapter)
    loader = Downloader(tmp_path / "cache", session=session)
    started = time.monotonic()
    with pytest.raises(DownloadError) as caught:
        loader.fetch(PINNED["helm"], "linux/amd64")
    assert time.monotonic() - started < 1
    assert adapter.calls == 1  # no retries: a name that does not resolve stays so
    assert caught.value.message == (
        "cannot download https://get.helm.sh/helm-v3.18.4-linux-amd64.tar.gz: "
        "the host get.helm.sh does not resolve (no route to the download host)"
    )
    assert "--mirror" in caught.value.hint
    assert cache_files(tmp_path) == []


# --- mirror ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "mirror", "expected"),
    [
        (
            "https://get.helm.sh/helm-v3.18.4-linux-amd64.tar.gz",
            "http://10.0.0.5:8080/",
            "http://10.0.0.5:8080/helm-v3.18.4-linux-amd64.tar.gz",
        ),
        (
            "https://dl.k8s.io/release/v1.31.13/bin/linux/amd64/kubectl",
            "https://mirror.school.example/mboxed",
            "https://mirror.school.example/mboxed/release/v1.31.13/bin/linux/amd64/kubectl",
        ),
        ("https://dl.k8s.io/a?b=c", "http://m", "http://m/a?b=c"),
        ("https://dl.k8s.io/a", None, "https://dl.k8s.io/a"),
    ],
)
def test_mirror_replaces_the_host_and_keeps_the_path(
    url: str, mirror: str | None, expected: str
) -> None:
    assert mirrored(url, mirror) == expected


@pytest.mark.parametrize("bad", ["127.0.0.1:8080", "ftp://host/x", "http://", "mirror"])
def test_a_mirror_that_is_not_a_base_url_is_refused(bad: str) -> None:
    with pytest.raises(MboxedError, match="MBOXED_MIRROR"):
        check_mirror(bad)


def test_mirror_serves_the_real_pinned_paths(tmp_path: Path, server: FileServer) -> None:
    """A classroom mirror is a copy of the upstream paths: here one file of the
    real table, checked against a sum computed by the test (not the pin)."""
    helm = PINNED["helm"]
    path = "/helm-v3.18.4-linux-amd64.tar.gz"
    assert mirrored(helm.file_url("linux/amd64"), server.url) == server.url + path
    server.add(path, BODY)
    got = downloader(tmp_path, server).download(server.url + path, SHA)
    assert got.read_bytes() == BODY
