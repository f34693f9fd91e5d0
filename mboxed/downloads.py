"""Verified downloads of the pinned tool releases, a cache keyed by sha256, mirrors.

Every file mboxed installs is checked against a sha256 before it is used:
the sum pinned in mboxed.pins where its published value was found, otherwise the
checksum file the upstream publishes beside the release, fetched over HTTPS.
Nothing is installed unverified.

Downloads land in `<cache>/downloads/<sha256>`; an interrupted transfer is
kept as `<sha256>.part` and resumed with an HTTP Range request. Transient
failures (timeouts, dropped connections, 5xx) are retried with backoff, a few
times; permanent ones (the host does not resolve, 404, checksum mismatch)
fail at once with one line saying what and what to do.

`--mirror URL` / MBOXED_MIRROR replaces the upstream host of every URL with
one base URL, same paths: https://get.helm.sh/helm-v3.18.4-linux-amd64.tar.gz
becomes URL/helm-v3.18.4-linux-amd64.tar.gz.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from mboxed.download_failures import (
    DownloadError,
    Transient,
    connect_reason,
    is_name_error,
    short,
)
from mboxed.download_sums import PUBLISHED, RECORDED, SumsFile
from mboxed.errors import MboxedError
from mboxed.files import parse_checksum_file, sha256_of
from mboxed.pins import Release

log = logging.getLogger("mboxed.downloads")

SUM_SUFFIX = ".sha256"  # a mirror's checksum file beside such a file

MAX_RESUMES = 200
MIRROR_HINT = "use a mirror that has the file: --mirror URL or MBOXED_MIRROR=URL (same paths)"


# --- mirror ---------------------------------------------------------------------------


def check_mirror(mirror: str) -> str:
    parts = urlsplit(mirror)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise MboxedError(
            f"--mirror / MBOXED_MIRROR {mirror!r} is not a base URL",
            hint="give http(s)://host[:port][/path], e.g. http://10.0.0.5:8080/mboxed",
        )
    return mirror.rstrip("/")


def mirrored(url: str, mirror: str | None) -> str:
    """Replace scheme and host of `url` with the mirror's base URL, same path."""
    if not mirror:
        return url
    base = check_mirror(mirror)
    parts = urlsplit(url)
    return base + parts.path + (f"?{parts.query}" if parts.query else "")


# --- the downloader ------------------------------------------------------------------------


@dataclass
class Downloader:
    cache_root: Path
    mirror: str | None = None
    attempts: int = 4
    wait: float = 0.5
    max_wait: float = 4.0
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    progress: Callable[[str], None] | None = None
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        if self.mirror:
            self.mirror = check_mirror(self.mirror)
        self.session.headers.setdefault("User-Agent", "mboxed")

    @property
    def cache_dir(self) -> Path:
        return self.cache_root / "downloads"

    def url_for(self, upstream: str) -> str:
        return mirrored(upstream, self.mirror)

    # -- retries ------------------------------------------------------------------------
    def _retrying(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception_type(Transient),
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.wait, max=self.max_wait),
            reraise=True,
        )

    def _what_to_do(self) -> str:
        if self.mirror:
            return f"check that the mirror {self.mirror} is up and has the file at the same path"
        return "check the network (or a proxy: HTTPS_PROXY), or " + MIRROR_HINT

    @contextlib.contextmanager
    def _request(self, url: str, headers: Mapping[str, str] | None = None) -> Iterator[Any]:
        """GET `url`, classifying failures as permanent (DownloadError) or Transient."""
        host = urlsplit(url).netloc
        try:
            response = self.session.get(
                url,
                headers=dict(headers or {}),
                stream=True,
                timeout=(self.connect_timeout, self.read_timeout),
                allow_redirects=True,
            )
        except requests.exceptions.ConnectionError as exc:
            if is_name_error(exc):
                raise DownloadError(
                    f"cannot download {url}: the host {host.split(':')[0]} does not resolve "
                    "(no route to the download host)",
                    hint=self._what_to_do(),
                ) from None
            raise Transient(f"cannot connect to {host}: {connect_reason(exc)}") from None
        except requests.exceptions.Timeout:
            # ConnectTimeout is also a ConnectionError (above): this is the
            # read timeout of a host that took the connection and sent nothing.
            raise Transient(
                f"{host} took the connection but did not answer within {self.read_timeout:g}s"
            ) from None
        except requests.exceptions.InvalidURL as exc:
            raise DownloadError(f"cannot download {url}: {exc}") from None
        with response:
            status = response.status_code
            if status in (200, 206, 416):
                yield response
                return
            if status == 429 or status >= 500:
                raise Transient(f"{url} answered HTTP {status}")
            raise DownloadError(
                f"cannot download {url}: HTTP {status} {response.reason or ''}".rstrip(),
                hint=self._what_to_do()
                if status == 404
                else "the server refused the file; " + self._what_to_do(),
            )

    def _retry(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            for attempt in self._retrying():
                with attempt:
                    return fn()
        except Transient as exc:
            raise DownloadError(
                f"{what} failed after {self.attempts} attempts: {exc}",
                hint=self._what_to_do(),
            ) from None
        return None  # pragma: no cover

    # -- checksums ---------------------------------------------------------------------
    def expected_sha256(self, release: Release, platform: str) -> str:
        pinned = release.pinned(platform)
        if pinned:
            return pinned
        known = self.published.get(release.file_url(platform))
        if known and self.cached(known) is not None:
            return known  # fetched and verified before: works offline from the cache
        upstream = release.sum_url(platform)
        url = self.url_for(upstream)
        if not self.mirror and urlsplit(url).scheme != "https":
            raise DownloadError(f"refusing to fetch the checksum {url} over plain HTTP")
        filename = os.path.basename(urlsplit(release.file_url(platform)).path)
        return self._sum_from(url, filename)

    def _sum_from(self, url: str, filename: str) -> str:
        """The sha256 of `filename` in the checksum file at `url`."""
        body = self.read_small(url).decode("utf-8", "replace")
        try:
            result = parse_checksum_file(body, filename)
        except ValueError:
            raise DownloadError(
                f"{url} holds no sha256 sum for {filename}",
                hint=self._what_to_do(),
            ) from None
        log.info("sha256 of %s from %s: %s", filename, url, result)
        return result

    def read_small(self, url: str, limit: int = 65536) -> bytes:
        """The body of a small file (a checksum file, object metadata): at
        most `limit` bytes, with the same retries as a download."""

        def get() -> bytes:
            with self._request(url) as response:
                if response.status_code == 416:
                    raise Transient(f"{url} answered HTTP 416")
                try:
                    return bytes(response.content[:limit])
                except requests.exceptions.RequestException as exc:
                    raise Transient(f"reading {url}: {short(exc)}") from None

        body: bytes = self._retry(f"fetching {url}", get)
        return body

    # -- files -------------------------------------------------------------------------
    def cached(self, sha256: str) -> Path | None:
        path = self.cache_dir / sha256
        if path.is_file():
            if sha256_of(path) == sha256:
                return path
            path.unlink()  # damaged: fetch again
        return None

    def fetch(self, release: Release, platform: str, expected: str | None = None) -> Path:
        """The verified file for `release` on `platform`, from the cache or
        downloaded (`expected`: its sha256, when the caller asked already)."""
        expected = expected or self.expected_sha256(release, platform)
        hit = self.cached(expected)
        if hit is not None:
            log.info("%s %s: cache hit %s", release.tool, release.version, hit)
            return hit
        url = self.url_for(release.file_url(platform))
        got = self.download(url, expected, label=f"{release.tool} {release.version}")
        if not release.pinned(platform):
            self.published.remember(release.file_url(platform), expected)
        return got

    # A published (not pinned) sum, once a download matched it, is kept beside
    # the cache so that the cached file can be used again without the network.
    @property
    def published(self) -> SumsFile:
        return SumsFile(self.cache_dir / PUBLISHED)

    @property
    def recorded(self) -> SumsFile:
        return SumsFile(self.cache_dir / RECORDED)

    # -- files with no published sum --------------------------------------------------
    def cached_recorded(self, upstream_url: str) -> Path | None:
        known = self.recorded.get(upstream_url)
        return self.cached(known) if known else None

    def fetch_recorded(self, upstream_url: str, label: str = "") -> Path:
        """A file whose upstream publishes no sha256 anywhere (cernbox-web's
        assets: GitHub release files with no checksum file beside them). Its
        sum is the one recorded at its first verified download and kept in
        `recorded-sums.json`; from a mirror (a room or a bundle), the
        `<file>.sha256` the room carries beside it, which `mboxed mirror`
        wrote at ITS first download. With neither, the first download from
        upstream is trusted (HTTPS to the upstream host is all that vouches
        for it) and its sum recorded, so that every later fetch must match."""
        hit = self.cached_recorded(upstream_url)
        if hit is not None:
            return hit
        known = self.recorded.get(upstream_url)
        url = self.url_for(upstream_url)
        filename = os.path.basename(urlsplit(upstream_url).path)
        if known is None and self.mirror:
            known = self._sum_from(url + SUM_SUFFIX, filename)
        if known is not None:
            got = self.download(url, known, label=label)
        else:
            if urlsplit(url).scheme != "https":
                raise DownloadError(f"refusing to fetch {url}, which has no known sum, over HTTP")
            got = self._download_first(url, label)
        self.recorded.remember(upstream_url, got.name)
        return got

    def _download_first(self, url: str, label: str) -> Path:
        """Download `url`, whose sha256 nobody knows yet, into the cache under its sum."""
        key = hashlib.sha256(url.encode()).hexdigest()[:32]
        partial = self.cache_dir / f"url-{key}.part"
        label = label or os.path.basename(urlsplit(url).path)
        self._retry(f"downloading {url}", lambda: self._resume_while_progress(url, partial, label))
        final = self.cache_dir / sha256_of(partial)
        os.replace(partial, final)
        log.info("first download of %s: sha256 %s recorded", url, final.name)
        return final

    def download(self, url: str, sha256: str, label: str = "") -> Path:
        """Download `url` into the cache as `<sha256>`, verified; resume a partial file."""
        final = self.cache_dir / sha256
        partial = self.cache_dir / f"{sha256}.part"
        self.download_checked(url, partial, sha256_of, sha256, label=label)
        os.replace(partial, final)
        return final

    def download_checked(
        self,
        url: str,
        partial: Path,
        digest: Callable[[Path], str],
        expected: str,
        *,
        algorithm: str = "sha256",
        label: str = "",
    ) -> None:
        """Download `url` into `partial` (resuming what it holds) until
        `digest(partial)` is `expected`; a mismatch removes it and fails."""
        label = label or os.path.basename(urlsplit(url).path)
        restarted = False
        while True:
            self._retry(
                f"downloading {url}", lambda: self._resume_while_progress(url, partial, label)
            )
            actual = digest(partial)
            if actual == expected:
                return
            partial.unlink(missing_ok=True)
            if restarted:
                raise DownloadError(
                    f"checksum mismatch for {url}: expected {algorithm} {expected}, got {actual}",
                    hint="the file was not installed; "
                    + (
                        "the mirror serves a different file than upstream"
                        if self.mirror
                        else "retry later, or " + MIRROR_HINT
                    ),
                )
            # A resumed file can be spoiled by a changed or broken prefix:
            # one clean download from scratch before calling it a mismatch.
            restarted = True

    def _resume_while_progress(self, url: str, partial: Path, label: str) -> None:
        """Transfer; a dropped connection that still moved the file forward is
        resumed at once and costs no retry (a flaky link finishes eventually);
        one that made no progress goes back to the bounded retry."""
        for _ in range(MAX_RESUMES):
            before = _size(partial)
            try:
                self._transfer(url, partial, label)
                return
            except Transient:
                if _size(partial) <= before:
                    raise
                log.info("resuming %s at %d bytes", url, _size(partial))
        raise Transient(f"still incomplete after {MAX_RESUMES} resumes")

    def _transfer(self, url: str, partial: Path, label: str) -> None:
        have = partial.stat().st_size if partial.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        with self._request(url, headers) as response:
            if response.status_code == 416:
                return  # the partial file already holds everything
            if response.status_code == 200 and have:
                have = 0  # server ignored Range: start over
            total = _content_length(response)
            full = have + total if total is not None else None
            mode = "ab" if have else "wb"
            partial.parent.mkdir(parents=True, exist_ok=True)
            written = have
            next_report = 0.1
            try:
                with partial.open(mode) as out:
                    for chunk in response.iter_content(chunk_size=1 << 14):
                        out.write(chunk)
                        written += len(chunk)
                        if full and self.progress and written / full >= next_report:
                            self.progress(f"{label}: {written * 100 // full}%")
                            next_report += 0.1
            except (requests.exceptions.RequestException, OSError) as exc:
                raise Transient(f"connection dropped after {written} bytes: {short(exc)}") from exc
            if full is not None and written < full:
                raise Transient(f"body truncated at {written} of {full} bytes")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _content_length(response: Any) -> int | None:
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
