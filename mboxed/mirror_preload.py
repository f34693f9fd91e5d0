"""minikube's preload tarball fetched for a room from upstream, which
publishes no sha256 for it: only the MD5 in the GCS object's metadata.

minikube v1.34.0 itself trusts that MD5 (pkg/minikube/download/preload.go:
getStorageAttrs reads the object's attributes from the GCS JSON API without
authentication, getChecksum takes attrs.MD5, and the download is checked
against it). mboxed does the same once, at mirror time: it asks the JSON API
for the object (`GET <host>/storage/v1/b/<bucket>/o/<url-encoded name>`,
whose `md5Hash` is the base64 of the MD5 — cloud.google.com/storage/docs/
json_api/v1/objects), downloads the object (resumed, retried), refuses it
unless its MD5 is that one, and records the sha256 of those verified bytes in
the room (`<name>.sha256`, mboxed.mirror.MirrorBuilder.add_release), which
laptops then check. So the room's sha256 is trust in upstream's MD5 at
mirror time, not a sum pinned in mboxed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from pathlib import Path
from urllib.parse import quote, urlsplit

from mboxed.download_failures import DownloadError
from mboxed.downloads import Downloader
from mboxed.pins import Release
from mboxed.providers.minikube_preload import BUCKET, GCS


def object_md5(downloader: Downloader, host: str, name: str) -> str:
    """The hex MD5 the GCS JSON API gives for object `name` of the bucket."""
    url = f"{host}/storage/v1/b/{BUCKET}/o/{quote(name, safe='')}"
    body = downloader.read_small(url)
    try:
        meta = json.loads(body)
        md5 = base64.b64decode(str(meta["md5Hash"]), validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise DownloadError(
            f"{url} gives no md5Hash for {name}: the preload cannot be verified",
            hint="retry later; minikube itself cannot verify it either",
        ) from None
    if len(md5) != 16:
        raise DownloadError(f"{url}: md5Hash of {name} is not an MD5")
    return md5.hex()


def fetch_upstream(
    downloader: Downloader, release: Release, platform: str, host: str = GCS
) -> Path:
    """The preload for `platform`, checked against its GCS MD5, in the
    downloads cache under its sha256 (remembered, so that a second run finds
    it there and asks upstream nothing). `host` stands in for
    storage.googleapis.com (tests)."""
    upstream = release.file_url(platform)
    known = downloader.published.get(upstream)
    hit = downloader.cached(known) if known else None
    if hit is not None:
        return hit
    path = urlsplit(upstream).path.lstrip("/")
    bucket, _, name = path.partition("/")
    assert bucket == BUCKET, upstream
    md5 = object_md5(downloader, host, name)
    partial = downloader.cache_dir / f"md5-{md5}.part"
    sums: dict[str, str] = {}

    def digest(file: Path) -> str:
        md5sum, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                md5sum.update(chunk)
                sha256.update(chunk)
        sums["sha256"] = sha256.hexdigest()
        return md5sum.hexdigest()

    downloader.download_checked(
        f"{host}/{path}",
        partial,
        digest,
        md5,
        algorithm="md5 (the GCS object's md5Hash)",
        label=f"{release.tool} {release.version} {platform}",
    )
    final = downloader.cache_dir / sums["sha256"]
    os.replace(partial, final)
    downloader.published.remember(upstream, sums["sha256"])
    return final
