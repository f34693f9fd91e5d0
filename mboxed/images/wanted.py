"""What the node still lacks, and how each image is pulled: pure functions
of the inventory, the node's store and the recorded digests.

A recorded digest (`pins`: normalised reference -> sha256 digest, kept by the
`images` step from the first pull on, and shared by a class) decides the
bits: the image is pulled by that digest and the tag pointed at it, whatever
the tag names upstream today.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mboxed.images.inventory import Image
from mboxed.images.pull import NodeImage, present, recorded_digest
from mboxed.images.reference import Reference


@dataclass(frozen=True)
class Wanted:
    image: Image
    pin: str  # recorded digest, "" before the first pull

    @property
    def key(self) -> str:
        return self.image.name

    @property
    def source(self) -> Reference:
        """What to pull: the pinned digest if known, else the reference as written."""
        ref = self.image.reference
        return ref.with_digest(self.pin) if self.pin and not ref.digest else ref

    def summary(self) -> str:
        how = f" (pinned {self.pin[:19]}…)" if self.pin else ""
        return f"pull {self.image.reference.familiar}{how}"


def missing(
    images: Iterable[Image], store: list[NodeImage], pins: Mapping[str, str]
) -> list[Wanted]:
    """The images the node does not have as wanted (the pinned bits under the tag)."""
    return [
        Wanted(img, pins.get(img.name, ""))
        for img in images
        if not present(store, img.reference, pins.get(img.name, ""))
    ]


def pins_from_node(
    images: Iterable[Image], store: list[NodeImage], pins: Mapping[str, str]
) -> dict[str, str]:
    """The recorded pins, plus the digest of any image the node already has
    under its tag and no pin yet (a pull finished by a run that was killed
    before it could record)."""
    found = dict(pins)
    for img in images:
        if img.name in found or img.reference.digest:
            continue
        digest = recorded_digest(store, img.reference)
        if digest:
            found[img.name] = digest
    return found


def recorded_pins(outputs: Mapping[str, Any], task: Mapping[str, Any]) -> dict[str, str]:
    """The digests recorded so far: the step's outputs, then what pulls of a
    task saved in the state (a run killed before its outputs were written)."""
    pins = {str(k): str(v) for k, v in (outputs.get("pins") or {}).items()}
    for key, item in (task.get("items") or {}).items():
        if item.get("digest") and "@" not in key:
            pins.setdefault(str(key), str(item["digest"]))
    return pins
