"""cernbox-web's web assets, served from inside the cluster.

The real chart (cernbox 0.0.5 values.yaml, `cernbox-web.initContainers[0]`;
templates/web-init.yaml, `cbox_init.sh`) starts cernbox-web with a busybox
init container that `wget`s two release files from github.com into the
emptyDir `web-content` (mounted at /var/www/web/) at every pod start, untars
both there and moves `assets/` to `cernbox/theme-cernbox/assets`. The script
has no `set -e`: with no network the web page is silently empty.

mboxed instead:
- fetches both files into its download cache (mboxed.downloads
  `fetch_recorded`; a room or bundle carries them at their upstream paths,
  mboxed.mirror);
- stores them in the release's namespace as ConfigMaps, each holding one
  piece of a file in `binaryData` (a ConfigMap holds at most 1 MiB: core/v1
  ConfigMap; the pieces are CHUNK bytes) — they live in the cluster's own
  store, so they survive pod and node restarts with no network, on every
  provider (kind, minikube, an existing cluster), and need no new image;
- replaces the init container (same name, same busybox:stable image, which
  the image set already holds) with one that mounts those ConfigMaps as one
  projected volume, joins the pieces, checks each file's sha256 and fails
  loudly on a mismatch, then untars as cbox_init.sh does.

Integrity: no sha256 of either release file is published (searched: the
cernbox/web-release and cernbox/web-extensions releases have no checksum
file, and no other source names one). The sum is therefore recorded at the
first download (the instructor's `mboxed mirror`, or a laptop's first `up`
with internet), kept beside the cache, carried in the room and the bundle as
`<file>.sha256`, and checked at every later fetch and at every pod start.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Kubernetes refuses a ConfigMap over 1 MiB (keys and values together):
# a piece of 960 KiB leaves room for its key and the object's metadata.
CHUNK = 960 * 1024
PREFIX = "mboxed-web-"
MOUNT = "/mboxed/web-assets"
VOLUME = "mboxed-web-assets"
WEB_DIR = "/var/www/web/"
INIT_IMAGE = "busybox:stable"  # the chart's own init image (cernbox 0.0.5 values.yaml)
LABELS = {
    "app.kubernetes.io/managed-by": "mboxed",
    "app.kubernetes.io/component": "cernbox-web-assets",
}
CHUNK_SHA = "mboxed.io/chunk-sha256"


@dataclass(frozen=True)
class WebAsset:
    name: str  # names its ConfigMaps
    env: str  # the chart's variable for its URL
    url: str

    @property
    def filename(self) -> str:
        return Path(urlsplit(self.url).path).name


# cernbox 0.0.5 values.yaml `cernbox-web.initContainers[0].env`
ASSETS = (
    WebAsset(
        "web",
        "WEB_ASSET",
        "https://github.com/cernbox/web-release/releases/download/v0.0.9/web.tar.gz",
    ),
    WebAsset(
        "theme",
        "WEB_THEME",
        "https://github.com/cernbox/web-extensions/releases/download/theme-cernbox/v0.1.7/"
        "theme-cernbox.tar.gz",
    ),
)


@dataclass(frozen=True)
class Piece:
    """One ConfigMap: piece `index` of an asset's file."""

    asset: str
    filename: str
    index: int
    offset: int
    size: int
    sha256: str

    @property
    def name(self) -> str:
        return f"{PREFIX}{self.asset}-{self.index:03d}"

    @property
    def key(self) -> str:
        # zero-padded: the init script's glob joins the pieces in order
        return f"{self.filename}.{self.index:03d}"


@dataclass(frozen=True)
class Stored:
    """An asset's verified file in the cache, and how it is cut."""

    asset: WebAsset
    path: Path
    sha256: str
    pieces: tuple[Piece, ...]

    def to_output(self) -> dict[str, Any]:
        return {
            "name": self.asset.name,
            "url": self.asset.url,
            "sha256": self.sha256,
            "size": sum(p.size for p in self.pieces),
            "configmaps": {p.name: p.sha256 for p in self.pieces},
        }


def _read(path: Path, offset: int, size: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read(size)


def cut(asset: WebAsset, path: Path, chunk: int | None = None) -> Stored:
    """The pieces of `path`, each `chunk` bytes (default CHUNK) but the last."""
    chunk = chunk or CHUNK
    pieces = []
    whole = hashlib.sha256()
    size = path.stat().st_size
    for index, offset in enumerate(range(0, max(size, 1), chunk)):
        data = _read(path, offset, chunk)
        whole.update(data)
        digest = hashlib.sha256(data).hexdigest()
        pieces.append(Piece(asset.name, asset.filename, index, offset, len(data), digest))
    return Stored(asset, path, whole.hexdigest(), tuple(pieces))


def configmap(stored: Stored, piece: Piece, namespace: str) -> dict[str, Any]:
    """The ConfigMap holding one piece (base64 in `binaryData`, as the API wants)."""
    import base64

    data = _read(stored.path, piece.offset, piece.size)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": piece.name,
            "namespace": namespace,
            "labels": dict(LABELS),
            "annotations": {CHUNK_SHA: piece.sha256, "mboxed.io/source": stored.asset.url},
        },
        "binaryData": {piece.key: base64.b64encode(data).decode()},
    }


def is_ours(obj: Mapping[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in LABELS.items())


@dataclass(frozen=True)
class Changes:
    write: tuple[Piece, ...]  # missing or different in the cluster
    delete: tuple[str, ...]  # ours, no longer wanted
    kept: int


def changes(stored: Sequence[Stored], existing: Sequence[Mapping[str, Any]]) -> Changes:
    """What makes the cluster's ConfigMaps hold exactly these pieces."""
    have = {
        str(o["metadata"]["name"]): str((o["metadata"].get("annotations") or {}).get(CHUNK_SHA))
        for o in existing
        if is_ours(o)
    }
    wanted = [p for s in stored for p in s.pieces]
    write = tuple(p for p in wanted if have.get(p.name) != p.sha256)
    names = {p.name for p in wanted}
    delete = tuple(sorted(n for n in have if n not in names))
    return Changes(write, delete, len(wanted) - len(write))


# --- the init container --------------------------------------------------------------------


def init_script(assets: Sequence[WebAsset] = ASSETS) -> str:
    """busybox sh: join each file's pieces, check its sha256 (from the
    environment), untar into the web directory; then cbox_init.sh's move of
    `assets/`. Any failure stops the pod's start with a message (set -e),
    instead of an empty web page. SRC and DEST are variables so that the
    tests run the same script in a temporary directory."""
    lines = [
        "set -eu",
        f'SRC="${{MBOXED_WEB_SRC:-{MOUNT}}}"',
        f'DEST="${{MBOXED_WEB_DEST:-{WEB_DIR}}}"',
        "unpack() {",
        '  file="$DEST/.$1.part"',
        '  cat "$SRC/$1".[0-9][0-9][0-9] > "$file" || {',
        '    echo "mboxed: pieces of $1 missing in $SRC (ConfigMaps ' + PREFIX + '*)" >&2',
        "    exit 1",
        "  }",
        '  got="$(sha256sum "$file" | cut -d " " -f 1)"',
        '  if [ "$got" != "$2" ]; then',
        '    echo "mboxed: $1 has sha256 $got, expected $2: refusing to install it;'
        " run mboxed up again to rewrite the ConfigMaps " + PREFIX + '*" >&2',
        '    rm -f "$file"',
        "    exit 1",
        "  fi",
        '  tar -xf "$file" -C "$DEST"',
        '  rm -f "$file"',
        '  echo "mboxed: $1 (sha256 $got) unpacked into $DEST"',
        "}",
    ]
    lines += [f'unpack {a.filename} "${a.env}_SHA256"' for a in assets]
    lines += [
        'mkdir -p "$DEST/cernbox/theme-cernbox"',
        'rm -rf "$DEST/cernbox/theme-cernbox/assets"',
        'mv "$DEST/assets" "$DEST/cernbox/theme-cernbox/assets"',
    ]
    return "\n".join(lines) + "\n"


def chart_volumes() -> list[dict[str, Any]]:
    """cernbox-web's volumes as the chart sets them (cernbox 0.0.5 values.yaml
    `cernbox-web.extraVolumes`): a values list replaces the chart's whole list,
    so adding one volume means giving all of them again."""
    return [
        {"name": "web-nginx", "configMap": {"name": "cernbox-web-nginx"}},
        {"name": "web-config", "configMap": {"name": "cernbox-web-config"}},
        {"name": "web-init", "configMap": {"name": "cernbox-web-init", "defaultMode": 0o755}},
        {"name": "web-content", "emptyDir": {}},
    ]


def values_overlay(outputs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The values that swap the chart's downloading init container for the
    one reading the ConfigMaps; `outputs`: the web-assets step's `assets`."""
    names = [name for out in outputs for name in sorted(out["configmaps"])]
    env = [{"name": f"{a.env}_SHA256", "value": _sum_of(a, outputs)} for a in ASSETS]
    projected = {"sources": [{"configMap": {"name": n}} for n in names]}
    init = {
        "name": "cernbox-web-init",
        "image": INIT_IMAGE,
        "command": ["/bin/sh", "-c", init_script()],
        "env": env,
        "volumeMounts": [
            {"name": "web-content", "mountPath": WEB_DIR},
            {"name": VOLUME, "mountPath": MOUNT, "readOnly": True},
        ],
    }
    return {
        "cernbox": {
            "cernbox-web": {
                "initContainers": [init],
                "extraVolumes": [*chart_volumes(), {"name": VOLUME, "projected": projected}],
            }
        }
    }


def _sum_of(asset: WebAsset, outputs: Sequence[Mapping[str, Any]]) -> str:
    for out in outputs:
        if out.get("name") == asset.name:
            return str(out["sha256"])
    raise KeyError(f"the web-assets step recorded no {asset.name}")


def all_pieces(stored: Sequence[Stored]) -> Iterator[tuple[Stored, Piece]]:
    for item in stored:
        for piece in item.pieces:
            yield item, piece
