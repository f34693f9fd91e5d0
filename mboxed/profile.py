"""Profiles: load, `extends`, `-f` files, `--set` overrides, strict validation.

Validation runs once, on the merged result, against the models in
mboxed.profile_schema. Every error is one line naming the source (file:line, or
the --set flag) and the key path.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mboxed import safeyaml
from mboxed.errors import ProfileError
from mboxed.profile_schema import Profile
from mboxed.state import stable_hash

KeyPath = tuple[str, ...]

# --- sources and provenance ----------------------------------------------------


@dataclass
class LoadedProfile:
    name: str
    profile: Profile
    sources: list[str]
    raw: dict[str, Any]
    origin: dict[KeyPath, str] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        return stable_hash(self.profile.model_dump(mode="json"))


def shipped_profiles_dir() -> Path:
    """Installed copy (mboxed/profiles) or, in a source tree, top-level profiles/."""
    installed = Path(str(resources.files("mboxed"))) / "profiles"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent / "profiles"


def shipped_profiles() -> list[str]:
    return sorted(p.stem for p in shipped_profiles_dir().glob("*.yaml"))


def _resolve(ref: str, relative_to: Path | None) -> Path:
    try:
        return _find(ref, relative_to)
    except (OSError, ValueError) as exc:
        # A name stat() refuses: too long (ENAMETOOLONG), or holding a NUL.
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ProfileError(f"profile {ref[:80]!r}: cannot look it up: {reason}") from None


def _find(ref: str, relative_to: Path | None) -> Path:
    looks_like_path = ref.endswith((".yaml", ".yml")) or "/" in ref
    if looks_like_path:
        path = Path(ref).expanduser()
        if not path.is_absolute() and relative_to is not None:
            path = relative_to / path
        if not path.is_file():
            raise ProfileError(f"profile file {ref!r} not found (looked at {path})")
        return path
    path = shipped_profiles_dir() / f"{ref}.yaml"
    if not path.is_file():
        raise ProfileError(
            f"unknown profile {ref!r}",
            hint="shipped profiles: "
            + ", ".join(shipped_profiles())
            + "; or give a path to a YAML file",
        )
    return path


def _lines(node: yaml.Node, prefix: KeyPath, label: str, out: dict[KeyPath, str]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = (*prefix, str(key_node.value))
            out[path] = f"{label}:{key_node.start_mark.line + 1}"
            _lines(value_node, path, label, out)


def _read_yaml(path: Path) -> tuple[dict[str, Any], dict[KeyPath, str]]:
    try:
        text = path.read_text(encoding="utf-8")
        data, node = safeyaml.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        what = "" if isinstance(exc, safeyaml.RefusedYaml) else "not valid YAML: "
        raise ProfileError(f"{where}: {what}{problem}") from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ProfileError(
            f"{path}: not a UTF-8 text file (byte {exc.start}); a profile is YAML text"
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ProfileError(
            f"{path}:1: a profile must be a mapping of keys, not {type(data).__name__}"
        )
    origin: dict[KeyPath, str] = {}
    if node is not None:
        _lines(node, (), str(path), origin)
    return data, origin


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else (lists too) is replaced, as
    Helm merges values. Profiles (`extends`, -f) merge the same way."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _load_chain(
    path: Path, seen: tuple[Path, ...]
) -> tuple[dict[str, Any], dict[KeyPath, str], list[str]]:
    if path.resolve() in seen:
        chain = " -> ".join(str(p) for p in (*seen, path.resolve()))
        raise ProfileError(f"{path}: 'extends' makes a loop: {chain}")
    data, origin = _read_yaml(path)
    parent_ref = data.get("extends")
    if parent_ref is None:
        return data, origin, [str(path)]
    if not isinstance(parent_ref, str):
        raise ProfileError(
            f"{origin.get(('extends',), str(path))}: extends: must be a profile name"
        )
    parent_path = _resolve(parent_ref, path.parent)
    parent, parent_origin, sources = _load_chain(parent_path, (*seen, path.resolve()))
    return deep_merge(parent, data), {**parent_origin, **origin}, [*sources, str(path)]


def parse_set(expr: str) -> tuple[KeyPath, Any]:
    """'a.b=c' -> (('a','b'), parsed YAML scalar c)."""
    key, sep, value = expr.partition("=")
    path = tuple(part.strip() for part in key.split("."))
    if not sep or not all(path):
        raise ProfileError(f"--set {expr!r}: expected KEY.PATH=VALUE, like provider.cpus=4")
    try:
        parsed = safeyaml.load(value)[0] if value.strip() else ""
    except safeyaml.RefusedYaml as exc:
        raise ProfileError(f"--set {expr}: {exc.problem}") from None
    except yaml.YAMLError:
        parsed = value
    return path, parsed


def _apply_set(data: dict[str, Any], path: KeyPath, value: Any, expr: str) -> dict[str, Any]:
    out = copy.deepcopy(data)
    node = out
    for i, part in enumerate(path[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            dotted = ".".join(path[: i + 1])
            raise ProfileError(f"--set {expr}: {dotted} is a value, not a section")
        node = child
    node[path[-1]] = value
    return out


def _describe(error: Mapping[str, Any], model: type[BaseModel], loc: KeyPath) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        accepted = _accepted_keys(model, loc[:-1])
        return "unknown key" + (f"; accepted here: {', '.join(accepted)}" if accepted else "")
    message = str(error.get("msg", "invalid"))
    message = message.removeprefix("Value error, ")
    if "input" in error and kind not in ("missing",) and not isinstance(error["input"], dict):
        message += f" (got {error['input']!r})"
    return message


def _accepted_keys(model: type[BaseModel], loc: KeyPath) -> list[str]:
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        current = fields[part].annotation
    fields = getattr(current, "model_fields", None)
    return sorted(fields) if fields else []


def validate(
    data: Mapping[str, Any], origin: Mapping[KeyPath, str], default_source: str
) -> Profile:
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            loc = tuple(str(p) for p in error["loc"])
            source = next(
                (origin[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in origin),
                default_source,
            )
            lines.append(f"{source}: {'.'.join(loc)}: {_describe(error, Profile, loc)}")
        raise ProfileError("\n".join(lines)) from None


def load_profile(
    name: str = "demo",
    files: Sequence[str | Path] = (),
    overrides: Sequence[str] = (),
) -> LoadedProfile:
    path = _resolve(name, Path.cwd())
    data, origin, sources = _load_chain(path, ())
    for extra in files:
        extra_path = _resolve(str(extra), Path.cwd())
        extra_data, extra_origin, extra_sources = _load_chain(extra_path, ())
        data = deep_merge(data, extra_data)
        origin.update(extra_origin)
        sources += extra_sources
    for expr in overrides:
        key, value = parse_set(expr)
        data = _apply_set(data, key, value, expr)
        # What the flag replaced comes from the flag now, keys under it too:
        # `--set 'provider={"cpus": "x"}'` is wrong on the command line, not
        # in demo.yaml.
        for under in [k for k in origin if k[: len(key)] == key]:
            del origin[under]
        for n in range(1, len(key) + 1):
            origin[key[:n]] = f"--set {expr}"
        sources.append(f"--set {expr}")
    profile = validate(data, origin, str(path))
    return LoadedProfile(name=name, profile=profile, sources=sources, raw=data, origin=origin)
