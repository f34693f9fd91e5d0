"""What a profile may say: its value types (sizes, hostnames, versions) and the
strict pydantic models that the merged profile is validated against.

Loading, `extends`, `-f` files and `--set` are mboxed.profile's job.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict

from mboxed.state import stable_hash

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
