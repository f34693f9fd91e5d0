"""What every puller offers, whatever the node's runtime: the node's image
store as facts, one pull with byte progress, and a failure that says what
to do.

A pull goes by digest once a digest is recorded (the first pull records the
one the tag resolved to), and the tag is then pointed at what was pulled: the
pods ask for the tag, and the node answers with the recorded bits even after
the tag moved upstream. A whole class that shares the records runs the same
bits; a floating tag (`stable`, `latest-2022…`) is pinned this way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from mboxed.errors import MboxedError
from mboxed.images.reference import Reference, ReferenceError, parse

# (bytes done, bytes total; total 0 = not known yet)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class NodeImage:
    """One image in the node's store."""

    id: str
    tags: frozenset[str]  # normalised repository:tag
    digests: frozenset[str]  # normalised repository@sha256:…
    size: int = 0


@dataclass(frozen=True)
class Pulled:
    digest: str  # the manifest (or index) digest the pull resolved
    size: int  # bytes on the node (0 when the runtime does not say)


class PullFailed(MboxedError):
    """A pull the registry refused or could not answer."""


class NodeUnreachable(MboxedError):
    """The node's image store does not answer: no pre-pull (the pods still
    pull for themselves when they start)."""


def pull_failed(image: str, answer: str) -> PullFailed:
    """The error for a failed pull: the image, the registry's answer, and the
    ways around it."""
    answer = " ".join(answer.split()) or "no answer"
    hint = (
        "if this host needs a proxy to reach the registry, give the node's runtime one "
        "(HTTPS_PROXY); in a classroom, use a room mirror (`--mirror URL`) or an image "
        "bundle; Docker Hub allows 10 anonymous pulls per hour per address"
    )
    if "toomanyrequests" in answer or "rate limit" in answer:
        hint = "Docker Hub's anonymous pull limit is reached: wait, or " + hint.split("; ", 1)[1]
    return PullFailed(f"pulling {image} failed: {answer}", hint=hint)


def normalised(name: str) -> str:
    """A name as the node lists it, normalised ("" if it is no reference)."""
    try:
        return str(parse(name))
    except ReferenceError:
        return ""


class Puller(Protocol):
    """Pulls into one node's image store (or every node's, for a DaemonSet)."""

    def images(self) -> list[NodeImage]: ...
    def pull(self, reference: Reference, progress: Progress) -> Pulled: ...
    def tag(self, pinned: Reference, tag: Reference) -> None: ...


def find(store: list[NodeImage], reference: Reference) -> NodeImage | None:
    """The node's image for a reference: by digest when it has one, by tag otherwise."""
    for image in store:
        if reference.digest:
            if reference.pinned in image.digests:
                return image
        elif reference.tagged in image.tags:
            return image
    return None


def present(store: list[NodeImage], reference: Reference, pinned: str = "") -> bool:
    """Is the wanted image there, under the name the pods ask for? With a
    recorded digest, the tag must point at exactly those bits."""
    if not pinned or reference.digest:
        return find(store, reference) is not None
    by_digest = find(store, reference.with_digest(pinned))
    return by_digest is not None and reference.tagged in by_digest.tags


def recorded_digest(store: list[NodeImage], reference: Reference) -> str:
    """The digest the node's image for a tag came from ("" if unknown)."""
    image = find(store, reference)
    if image is None:
        return ""
    for digest in sorted(image.digests):
        if digest.startswith(reference.repository + "@"):
            return digest.partition("@")[2]
    return ""


def sizes(store: list[NodeImage]) -> Mapping[str, int]:
    return {name: image.size for image in store for name in image.tags | image.digests}
