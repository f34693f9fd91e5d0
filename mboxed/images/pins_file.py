"""A class's image pins in a file: reference -> digest, so every laptop of a
class runs the same bits. An instructor writes it (`mboxed images --pins
FILE`) after one `up`; each student's profile names it (`images.pins:
FILE`), and the `images` step pulls those digests before its own records.

The file is YAML (JSON is YAML):

    version: 1
    pins:
      docker.io/library/busybox:1.36: sha256:<64 hex>

and read strictly: a key must be a tagged reference without a digest (the
name the pods use; it is normalised), a value a sha256 digest, and nothing
else may be there. A wrong file is refused whole, naming the entry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from mboxed import safeyaml
from mboxed.errors import MboxedError
from mboxed.images.reference import ReferenceError, parse
from mboxed.paths import read_named_file

VERSION = 1
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class PinsError(MboxedError):
    """A pins file that cannot be used."""


def parse_pins(text: str, source: str) -> dict[str, str]:
    """The pins of a file's text, normalised; PinsError naming what is wrong."""
    hint = f"{source} is written by `mboxed images --pins FILE`; see docs/classroom.md"
    try:
        data = safeyaml.load(text)[0]
    except yaml.YAMLError as exc:  # syntax; safeyaml's refusals (duplicate keys, aliases)
        raise PinsError(f"{source}: not YAML: {str(exc).splitlines()[0]}", hint=hint) from None
    if not isinstance(data, dict) or set(data) != {"version", "pins"}:
        raise PinsError(f"{source}: want exactly the keys 'version' and 'pins'", hint=hint)
    if data["version"] != VERSION or type(data["version"]) is not int:
        raise PinsError(f"{source}: version {data['version']!r} (this mboxed reads 1)", hint=hint)
    if not isinstance(data["pins"], dict):
        raise PinsError(f"{source}: 'pins' is not a mapping", hint=hint)
    pins: dict[str, str] = {}
    for key, value in data["pins"].items():
        name = _reference(key, source, hint)
        if not isinstance(value, str) or not _DIGEST.fullmatch(value):
            raise PinsError(
                f"{source}: pins.{key}: {value!r} is not a digest (sha256:<64 hex>)", hint=hint
            )
        if name in pins and pins[name] != value:
            raise PinsError(f"{source}: {name} is pinned twice, to different digests", hint=hint)
        pins[name] = value
    return pins


def _reference(key: Any, source: str, hint: str) -> str:
    if not isinstance(key, str):
        raise PinsError(f"{source}: pins key {key!r} is not an image reference", hint=hint)
    try:
        ref = parse(key)
    except ReferenceError as exc:
        raise PinsError(f"{source}: pins.{key}: {exc}", hint=hint) from None
    if ref.digest:
        raise PinsError(
            f"{source}: pins.{key}: has a digest already; the key is the name the pods use",
            hint=hint,
        )
    return str(ref)


def read_pins(path: str | Path) -> dict[str, str]:
    file, text = read_named_file(
        path,
        "images.pins",
        kind="pins file",
        missing_hint="the instructor writes it with `mboxed images --pins FILE`",
        error=PinsError,
    )
    return parse_pins(text, str(file))


def dump_pins(pins: Mapping[str, str]) -> str:
    """The file's text (sorted, so two exports of the same pins are equal)."""
    import json

    lines = [f"version: {VERSION}", "pins:"]
    lines += [f"  {json.dumps(k)}: {json.dumps(pins[k])}" for k in sorted(pins)]
    if not pins:
        lines[-1] = "pins: {}"
    return "\n".join(lines) + "\n"
