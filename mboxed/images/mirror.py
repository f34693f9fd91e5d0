"""The images half of the room mirror: every image of the profile, stored in
the mirror DIR at the OCI paths of mboxed.images.oci, for the chosen
platforms, every blob by digest.

Order makes it atomic and resumable, as the files half (mboxed.mirror):
blobs first (each verified and renamed into place), then the platforms'
manifests under their digests, then the index under its digest, and the tag
last — a tag in the mirror always names content that is all there. A second
run finds the tag, checks every manifest and blob it names against its digest
and downloads nothing; a damaged file is fetched again. A blob the mirror
already holds for another image (a shared base layer) is hard-linked, not
downloaded twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mboxed.errors import MboxedError
from mboxed.files import place, sha256_of, write_atomic
from mboxed.images.inventory import Image, inventory
from mboxed.images.oci import (
    ACCEPT,
    Manifest,
    Platform,
    chosen_children,
    mirror_repository,
    parse_manifest,
    platforms_of,
)
from mboxed.images.reference import Reference, ReferenceError, parse
from mboxed.mirror import MirrorResult
from mboxed.registry import NotFound, RegistryClient, registry_base_url


@dataclass(frozen=True)
class Wanted:
    """An image to mirror and who needs it (named when it cannot be had)."""

    reference: Reference
    needed_by: str = ""


def wanted_from_inventory(images: Iterable[Image], profile: str) -> list[Wanted]:
    out = []
    for image in images:
        uses = ", ".join(str(use) for use in image.uses[:3])
        more = f" and {len(image.uses) - 3} more" if len(image.uses) > 3 else ""
        out.append(Wanted(image.reference, f"profile {profile}: {uses}{more}"))
    return out


def wanted_from_references(references: Iterable[str], needed_by: str = "") -> list[Wanted]:
    """For callers that hold plain references (`--image`, the integrator)."""
    out = []
    for text in references:
        try:
            out.append(Wanted(parse(text), needed_by))
        except ReferenceError as exc:
            raise MboxedError(f"image {text!r}: {exc}") from None
    return out


def profile_wanted(
    profile: str,
    provider: str,
    rendered: str | None,
    extra: Iterable[str] = (),
    base_images: Iterable[str] = (),
) -> list[Wanted]:
    """Every image a profile's laptops pull: the inventory of the rendered
    chart (mboxed.images.inventory, with the provider's ingress images), the
    provider's own base image (kind's node image, minikube's kicbase) and any
    extra references. `rendered`: the manifests `helm template` gives; None
    until the caller can render (then only the provider's images)."""
    from mboxed.images.ingress import ingress_images

    pairs = ingress_images(provider) if provider else ()
    wanted = wanted_from_inventory(inventory(rendered or "", pairs), profile)
    wanted += wanted_from_references(base_images, f"profile {profile}: the {provider} node")
    wanted += wanted_from_references(extra, "--image")
    return wanted


@dataclass
class ImageMirror:
    """Fills root/v2/<namespace>/… . `source`: a room mirror to copy from
    instead of the images' own registries (same layout, see oci.py)."""

    root: Path
    platforms: Sequence[Platform]
    source: str | None = None
    progress: Callable[[str], None] = lambda line: None
    result: MirrorResult = field(default_factory=MirrorResult)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._clients: dict[str, RegistryClient] = {}
        self._blobs: dict[str, Path] | None = None

    # -- where ---------------------------------------------------------------------
    def tree(self, ref: Reference) -> Path:
        return self.root / "v2" / mirror_repository(ref)

    def _client(self, ref: Reference) -> tuple[RegistryClient, str]:
        """The client and the repository name to ask it for."""
        if self.source:
            base, repository = self.source, mirror_repository(ref)
        else:
            base, repository = registry_base_url(ref.domain), ref.path
        if base not in self._clients:
            self._clients[base] = RegistryClient(base)
        return self._clients[base], repository

    @property
    def bytes_from_source(self) -> int:
        return sum(client.bytes_received for client in self._clients.values())

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _note(self, path: Path, added: bool) -> None:
        if added:
            self.result.added.append(self._rel(path))
            self.result.added_bytes += path.stat().st_size
        else:
            self.result.kept.append(self._rel(path))

    # -- what is there ---------------------------------------------------------------
    def _verified(self, path: Path, digest: str) -> bool:
        return path.is_file() and "sha256:" + sha256_of(path) == digest

    def _stored_manifest(self, tree: Path, name: str) -> Manifest | None:
        path = tree / "manifests" / name
        if not path.is_file():
            return None
        body = path.read_bytes()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if name.startswith("sha256:") and digest != name:
            return None
        try:
            return parse_manifest(body, digest, where=self._rel(path))
        except MboxedError:
            return None

    def complete(self, ref: Reference) -> list[Path] | None:
        """Every file of the image, when it is all in the mirror under its
        tag/digest for the chosen platforms and matches its digests; else None."""
        tree = self.tree(ref)
        top = self._stored_manifest(tree, ref.digest or ref.tag)
        if top is None or (ref.digest and top.digest != ref.digest):
            return None
        files = [tree / "manifests" / (ref.digest or ref.tag)]
        if not ref.digest:
            if self._stored_manifest(tree, top.digest) is None:
                return None
            files.append(tree / "manifests" / top.digest)
        images = [top]
        if top.is_index:
            children = chosen_children(top, self.platforms)
            if not children:
                return None
            images = []
            for child in children:
                found = self._stored_manifest(tree, child.digest)
                if found is None:
                    return None
                images.append(found)
                files.append(tree / "manifests" / child.digest)
        for image in images:
            for blob in image.blobs():
                path = tree / "blobs" / blob.digest
                if not self._verified(path, blob.digest):
                    return None
                files.append(path)
        return files

    def _known_blob(self, digest: str) -> Path | None:
        """The same blob elsewhere in the mirror (another repository)."""
        if self._blobs is None:
            self._blobs = {p.name: p for p in (self.root / "v2").glob("**/blobs/sha256:*")}
        return self._blobs.get(digest)

    # -- storing -----------------------------------------------------------------------
    def add(self, wanted: Wanted) -> None:
        ref = wanted.reference
        if self.complete(ref):
            self.progress(f"image {ref}: already here, verified")
            self.result.kept.append(
                self._rel(self.tree(ref) / "manifests" / (ref.digest or ref.tag))
            )
            return
        client, repository = self._client(ref)
        needed = f" (needed by {wanted.needed_by})" if wanted.needed_by else ""
        self.progress(f"image {ref}: fetching from {client.base_url}")
        try:
            fetched = client.manifest(repository, ref.digest or ref.tag, accept=ACCEPT)
            top = parse_manifest(fetched.body, fetched.digest, fetched.media_type, str(ref))
            if ref.digest and top.digest != ref.digest:
                raise MboxedError(f"image {ref}: the registry sent manifest {top.digest}")
            images = [top]
            if top.is_index:
                images = self._children(client, repository, ref, top)
            for image in images:
                self._store_blobs(client, repository, ref, image)
                if image is not top:
                    self._store_manifest(ref, image.digest, image.body)
        except NotFound as exc:
            raise MboxedError(
                f"image {ref}{needed}: not found at {client.base_url}",
                hint=f"{exc.url} answered 404; check the reference (or that the room mirror "
                "was built for this profile)",
            ) from None
        except MboxedError as exc:
            if needed and wanted.needed_by not in exc.message:
                exc.message = f"{exc.message}{needed}"
            raise
        self._store_manifest(ref, top.digest, top.body)
        if not ref.digest:
            self._store_manifest(ref, ref.tag, top.body)  # the tag last

    def _children(
        self, client: RegistryClient, repository: str, ref: Reference, index: Manifest
    ) -> list[Manifest]:
        chosen = chosen_children(index, self.platforms)
        wanted = ", ".join(str(p) for p in self.platforms)
        if not chosen:
            raise MboxedError(
                f"image {ref} has no manifest for {wanted} "
                f"(it has: {', '.join(platforms_of(index)) or 'none'})",
                hint="choose the laptops' platforms with --platform",
            )
        for platform in self.platforms:
            if not any(platform.matches(d.platform) for d in chosen):
                self.warnings.append(f"image {ref} has no manifest for {platform}")
        out = []
        for child in chosen:
            fetched = client.manifest(repository, child.digest, accept=ACCEPT)
            out.append(parse_manifest(fetched.body, fetched.digest, child.media_type, str(ref)))
        return out

    def _store_blobs(
        self, client: RegistryClient, repository: str, ref: Reference, image: Manifest
    ) -> None:
        tree = self.tree(ref)
        for blob in image.blobs():
            dest = tree / "blobs" / blob.digest
            if self._verified(dest, blob.digest):
                self._note(dest, added=False)
                continue
            other = self._known_blob(blob.digest)
            if other is not None and other != dest and self._verified(other, blob.digest):
                place(other, dest)
            else:
                size = f" ({blob.size / 1e6:.1f} MB)" if blob.size else ""
                self.progress(f"image {ref}: blob {blob.digest[:19]}…{size}")
                client.download_blob(repository, blob.digest, dest, what=f"image {ref}")
            if self._blobs is not None:
                self._blobs[blob.digest] = dest
            self._note(dest, added=True)

    def _store_manifest(self, ref: Reference, name: str, body: bytes) -> None:
        path = self.tree(ref) / "manifests" / name
        if path.is_file() and path.read_bytes() == body:
            self._note(path, added=False)
            return
        write_atomic(path, body)
        self._note(path, added=True)


def mirror_images(mirror: ImageMirror, wanted: Iterable[Wanted]) -> MirrorResult:
    """Store every wanted image; stops at the first that cannot be had."""
    seen: set[Reference] = set()
    for item in wanted:
        if item.reference not in seen:
            seen.add(item.reference)
            mirror.add(item)
    return mirror.result
