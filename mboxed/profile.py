"""Profiles: load, `extends`, `-f` files, `--set` overrides, strict validation.

Validation runs once, on the merged result. Every error is one line naming the
source (file:line, or the --set flag) and the key path.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
)

from mboxed import safeyaml
from mboxed.errors import ProfileError
from mboxed.state import stable_hash

KeyPath = tuple[str, ...]

# --- value types --------------------------------------------------------------

# 8g, 8G, 8gb, 8GiB and 8Gi (Kubernetes' own unit) are all 8 GiB: mboxed
# hands the providers MiB (minikube --memory=8192mb), never this text.
_SIZE = re.compile(r"(\d+)\s*([mg])(?:i|ib|b)?", re.IGNORECASE)
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_K8S_VERSION = re.compile(r"v\d+\.\d+\.\d+")


def size_mib(value: str) -> int:
    """'8g' -> 8192, '4096m' -> 4096, '2Gi' -> 2048."""
    match = _SIZE.fullmatch(value.strip())
    if not match:
        raise ValueError(f"not a size: {value!r}")
    number, unit = int(match.group(1)), match.group(2).lower()
    return number * 1024 if unit == "g" else number


def _size_between(low_gib: int, high_gib: int) -> AfterValidator:
    """A size in [low, high] GiB, normalised to '<n>m' or '<n>g'."""

    def check(value: str) -> str:
        match = _SIZE.fullmatch(value.strip())
        if not match:
            raise ValueError(
                f"{value!r} is not a size; use a number with m or g, like 8g, 8Gi or 4096m"
            )
        mib = size_mib(value)
        if not low_gib * 1024 <= mib <= high_gib * 1024:
            raise ValueError(f"{value!r} is out of range; use {low_gib}g to {high_gib}g")
        return f"{int(match.group(1))}{match.group(2).lower()}"

    return AfterValidator(check)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _check_hostname(value: str) -> str:
    if value == "auto":
        return value
    name = value.lower().rstrip(".")
    if _is_ip(name):
        # Kubernetes refuses an IP as an Ingress host ("must be a DNS name, not
        # an IP address", ValidateIngressSpec in k8s.io/kubernetes
        # pkg/apis/networking/validation), so the install would fail late.
        raise ValueError(
            f"{value!r} is an IP address, and an ingress needs a DNS name; use 'auto', "
            f"a name like box.example.org, or {name.replace('.', '-')}.nip.io"
        )
    if len(name) > 253 or not all(_HOST_LABEL.fullmatch(part) for part in name.split(".")):
        raise ValueError(
            f"{value!r} is not a hostname; use 'auto' or a DNS name like box.example.org"
        )
    if name == "localhost" or name.endswith(".localhost"):
        # Inside every pod localhost is the pod itself (RFC 6761 names it
        # loopback everywhere): the services could not reach the IdP by it.
        raise ValueError(
            f"{value!r} names each machine itself, and the pods must reach the ingress by "
            "this name; use 'auto' or a DNS name like box.example.org"
        )
    return name


def _check_k8s_version(value: str) -> str:
    if not _K8S_VERSION.fullmatch(value):
        raise ValueError(f"{value!r} is not a Kubernetes version; use the form v1.31.0")
    return value


# 0g would reach the provider as "--memory=0mb"; minikube itself wants more
# than 1 GiB (its usable minimum is 1800 MB) and says so. The upper bounds
# catch slips such as 8000g.
MemorySize = Annotated[str, _size_between(1, 1024)]
DiskSize = Annotated[str, _size_between(1, 65536)]
Count = Annotated[int, Strict()]  # a bool is an int to Python: `cpus: true` is 1
Hostname = Annotated[str, AfterValidator(_check_hostname)]
KubernetesVersion = Annotated[str, AfterValidator(_check_k8s_version)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class Provider(_Strict):
    name: Literal["minikube", "kind", "existing"] = "minikube"
    driver: Literal["docker", "podman", "kvm2", "virtualbox", "none"] = "docker"
    cpus: Count = Field(4, ge=1, le=256)
    memory: MemorySize = "8g"
    disk: DiskSize = "40g"
    kubernetes_version: KubernetesVersion = "v1.31.0"
    context: str | None = None
    # existing only: the kubeconfig file holding `context` (default: $KUBECONFIG, ~/.kube/config)
    kubeconfig: str | None = None


class UsersGenerate(_Strict):
    count: Count = Field(0, ge=0, le=5000)
    prefix: str = Field("student", pattern=r"^[a-z][a-z0-9_-]{0,20}$")
    password_length: Count = Field(12, ge=8, le=64)


class Users(_Strict):
    preset: Literal["classic", "none"] = "classic"
    generate: UsersGenerate = UsersGenerate()
    roster: str | None = None


class Components(_Strict):
    swan: bool = True
    cernbox: bool = True


def _check_chart(value: str) -> str:
    """An OCI reference, or a local chart (directory or packaged .tgz) used as is."""
    if value.startswith("oci://"):
        return value
    path = Path(value).expanduser()
    if path.is_dir() and (path / "Chart.yaml").is_file():
        return str(path.resolve())
    if path.is_file() and path.name.endswith((".tgz", ".tar.gz")):
        return str(path.resolve())
    raise ValueError(
        "use oci://REGISTRY/PATH, or the path of a chart directory (with Chart.yaml) "
        "or a packaged chart .tgz that exists"
    )


def _check_release(value: str) -> str:
    # The umbrella chart 0.0.8 hard-codes its release name in its own values
    # (ldap://sciencebox-ldap:389, sciencebox-mgm.default.svc.cluster.local,
    # sciencebox-gateway...): under another name it renders, but nothing can
    # log in.
    if value != "sciencebox":
        raise ValueError(
            "must be 'sciencebox': the ScienceBox chart hard-codes its service names "
            "(sciencebox-ldap, sciencebox-gateway, sciencebox-mgm) in its values, so "
            "under another release name nothing can log in"
        )
    return value


class ScienceBox(_Strict):
    chart: Annotated[str, AfterValidator(_check_chart)] = (
        "oci://registry.cern.ch/sciencebox/charts/sciencebox"
    )
    version: str = "0.0.8"
    release: Annotated[str, AfterValidator(_check_release)] = "sciencebox"
    # The chart (0.0.8) hard-codes `<release>-mgm.default.svc.cluster.local`
    # in cernbox/templates/storageprovider-*.yaml: it only works in `default`,
    # which is also where the original mboxed (etc/deploy.sh) installed it.
    namespace: str = Field("default", pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
    ready_timeout: Count = Field(1800, ge=30, le=86400, description="seconds")
    components: Components = Components()
    values: dict[str, Any] = Field(default_factory=dict)


class Images(_Strict):
    # a class's pins (mboxed/images/pins_file.py): reference -> digest, pulled
    # before this deployment's own recorded digests
    pins: str | None = None


class Profile(_Strict):
    version: Literal[1] = 1
    extends: str | None = None
    description: str = ""
    provider: Provider = Provider()
    hostname: Hostname = "auto"
    tls: Literal["local-ca", "none"] = "local-ca"
    users: Users = Users()
    sciencebox: ScienceBox = ScienceBox()
    images: Images = Images()
    gpu: bool = False

    def section_hash(self, *keys: str) -> str:
        """A stable hash of some top-level sections (for step inputs)."""
        dumped = self.model_dump(mode="json")
        return stable_hash({k: dumped[k] for k in keys})


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
