"""The generated values as text: a path lookup, the YAML `helm -f` reads,
and masking of secrets for printing (`mboxed values`, `mboxed render`)."""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from mboxed.sciencebox.chart_defaults import SECRET_PATHS

MASK = "********"
# In rendered manifests: a plain YAML scalar (a bare ******** would be read as
# an alias), so that the masked text still parses.
MANIFEST_MASK = "<masked>"


def get_path(values: Mapping[str, Any], dotted: str) -> Any:
    """`get_path(v, "a.b.c")`; KeyError when absent. (Keys never contain dots
    in the paths used here except where noted.)"""
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


# --- writing ---------------------------------------------------------------------------------


class _ValuesDumper(yaml.SafeDumper):
    """Block scalars for multi-line strings (LDIF, PEM); no anchors/aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        text = "\n".join(line.rstrip() for line in data.split("\n"))
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_ValuesDumper.add_representer(str, _str)


def dump_values(values: Mapping[str, Any]) -> str:
    """YAML for `helm -f`: readable block scalars, stable key order."""
    return yaml.dump(
        dict(values), Dumper=_ValuesDumper, sort_keys=True, allow_unicode=True, width=1 << 30
    )


# --- masking ----------------------------------------------------------------------------------


_LDIF_PASSWORD = re.compile(r"(?im)^([ \t]*userPassword:)(:?)[ \t]*\S.*$")


def _mask_ldif(text: str, mask: str = MASK) -> str:
    """Every LDIF `userPassword:` / `userPassword::` value, at any indentation."""
    return _LDIF_PASSWORD.sub(lambda m: f"{m.group(1)}{m.group(2)} {mask}", text)


def _needles(extra: Iterable[str]) -> list[str]:
    """Secret strings worth looking for (short ones would mask ordinary words)."""
    return sorted({e for e in extra if e and len(e) >= 4}, key=len, reverse=True)


def _scrub_text(text: str, needles: Iterable[str], mask: str = MASK) -> str:
    for needle in needles:
        if needle in text:
            text = text.replace(needle, mask)
    return text


def mask_secrets(values: Mapping[str, Any], extra: Iterable[str] = ()) -> dict[str, Any]:
    """A copy of `values` with every secret replaced by ********: the known
    secret paths, password hashes in the LDIF, the TLS keys, and any string
    containing one of `extra` (e.g. the stored secrets, wherever the profile's
    raw values repeated them)."""
    out = copy.deepcopy(dict(values))
    needles = _needles(extra)

    def mask_path(node: Any, parts: list[str]) -> None:
        if not parts or not isinstance(node, dict):
            return
        head, rest = parts[0], parts[1:]
        if head.endswith("[]"):
            items = node.get(head[:-2])
            if isinstance(items, list):
                for item in items:
                    if isinstance(item, dict) and len(rest) == 1 and rest[0] in item:
                        item[rest[0]] = MASK
                    else:
                        mask_path(item, rest)
            return
        if head not in node:
            return
        if not rest:
            if node[head] not in (None, ""):
                node[head] = MASK
            return
        mask_path(node[head], rest)

    for path in SECRET_PATHS:
        mask_path(out, path.split("."))
    ldif_files = out.get("ldap-instance-config", {}).get("ldifFiles")
    if isinstance(ldif_files, dict):
        for name, text in list(ldif_files.items()):
            if isinstance(text, str):
                ldif_files[name] = _mask_ldif(text)

    def scrub(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: scrub(v) for k, v in node.items()}
        if isinstance(node, list):
            return [scrub(v) for v in node]
        if isinstance(node, str):
            return _scrub_text(node, needles)
        return node

    return scrub(out) if needles else out


# --- masking rendered manifests -------------------------------------------------------

_TOP_KEY = re.compile(r"^(data|stringData):[ \t]*$")
_ENTRY = re.compile(r"^([ \t]+)([^:#\s][^:]*):(.*)$")


def _mask_secret_data(doc: str) -> str:
    """A `kind: Secret` document with every value under data/stringData masked
    (block scalars included), keys and the rest of the document kept."""
    out: list[str] = []
    inside = False
    entry_indent = ""
    for line in doc.split("\n"):
        if not line.startswith((" ", "\t")) and line.strip():
            inside = bool(_TOP_KEY.match(line))
            entry_indent = ""
            out.append(line)
            continue
        if not inside:
            out.append(line)
            continue
        entry = _ENTRY.match(line)
        if entry and (not entry_indent or entry.group(1) == entry_indent):
            entry_indent = entry.group(1)
            out.append(f"{entry_indent}{entry.group(2)}: {MANIFEST_MASK}")
        elif not line.strip():
            out.append(line)
        # else: a continuation line of a masked value: dropped
    return "\n".join(out)


def mask_manifests(stream: str, secrets: Iterable[str]) -> str:
    """Rendered manifests fit to print: Secret objects' values, LDIF password
    hashes, and every one of `secrets` (as is or base64-encoded: the
    post-renderer writes them into templates) replaced by <masked>."""
    from mboxed.sciencebox.postrender import split_documents

    plain = _needles(secrets)
    needles = _needles([*plain, *(base64.b64encode(s.encode()).decode() for s in plain)])
    docs = []
    for doc in split_documents(stream):
        if re.search(r"(?m)^kind:[ \t]*Secret[ \t]*$", doc):
            doc = _mask_secret_data(doc)
        masked = _scrub_text(_mask_ldif(doc, MANIFEST_MASK), needles, MANIFEST_MASK)
        docs.append(masked.strip("\n"))
    return "".join(f"---\n{doc}\n" for doc in docs)
