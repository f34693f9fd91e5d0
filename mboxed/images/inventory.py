"""Every image a ScienceBox deployment runs, and where: pure functions of the
rendered manifests (what `helm upgrade --install` applies) and the provider.

Three sources:
- the workloads of the render: containers and init containers of Pods,
  Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs
  (mboxed.sciencebox.manifests.pod_spec knows where each keeps its pod);
- the SWAN user pod, which no manifest holds: the hub spawns it at login from
  its configuration. z2jh renders its whole values into the `values.yaml` key
  of the hub's Secret (jupyterhub 1.2.0 templates/hub/secret.yaml) and the
  hub reads them back (files/hub/jupyterhub_config.py): `singleuser.image`
  {name, tag, pullPolicy} becomes KubeSpawner.image and image_pull_policy;
  `singleuser.networkTools.image` is the `block-cloud-metadata` init container
  when `singleuser.cloudMetadata.blockWithIptables` is true (no pull policy
  set: Kubernetes' default); `singleuser.profileList[].kubespawner_override
  .image` and any `hub.config.<X>Spawner.image` are images a user may pick;
- the provider's ingress controller (mboxed.images.ingress).

Pull policies are the effective ones: an unset policy defaults to Always for
a `latest` (or absent) tag and IfNotPresent otherwise (kubernetes
pkg/apis/core/v1/defaults.go SetDefaults_Container; the same rule for the
spawned pod).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from mboxed.images.reference import DEFAULT_TAG, Reference, ReferenceError, parse
from mboxed.sciencebox.manifests import Document, documents, pod_spec

IF_NOT_PRESENT = "IfNotPresent"
ALWAYS = "Always"
CONTAINER_KEYS = (("initContainers", True), ("containers", False))

# Where an image comes from in the inventory.
CHART, SPAWNER, INGRESS = "chart", "spawner", "ingress"


@dataclass(frozen=True)
class Use:
    """One container that runs an image."""

    kind: str  # Deployment, Job, ... ; "UserPod" for a pod the hub spawns
    name: str
    container: str
    init: bool = False
    pull_policy: str = IF_NOT_PRESENT  # effective
    declared: str = ""  # as written; "" = Kubernetes' default
    origin: str = CHART

    def __str__(self) -> str:
        role = "init container" if self.init else "container"
        return f"{self.kind}/{self.name} {role} {self.container}"


@dataclass(frozen=True)
class Image:
    """One distinct image and every container that runs it."""

    reference: Reference
    uses: tuple[Use, ...]

    @property
    def name(self) -> str:
        return str(self.reference)

    @property
    def short(self) -> str:
        """The last path component (`systemuser`), for progress lines."""
        return self.reference.path.rsplit("/", 1)[-1]

    @property
    def pull_policies(self) -> set[str]:
        return {use.pull_policy for use in self.uses}

    @property
    def origins(self) -> set[str]:
        return {use.origin for use in self.uses}


class InventoryError(ValueError):
    """A rendered image reference Kubernetes would not accept."""


def effective_policy(declared: str, reference: Reference) -> str:
    """The policy Kubernetes applies (defaults.go SetDefaults_Container)."""
    if declared:
        return declared
    return ALWAYS if reference.tag == DEFAULT_TAG else IF_NOT_PRESENT


def _parse(image: str, where: str) -> Reference:
    try:
        return parse(image)
    except ReferenceError as exc:
        raise InventoryError(f"{where}: image {image!r}: {exc}") from None


# --- the chart's workloads ---------------------------------------------------------


def workload_uses(docs: Iterable[Document]) -> Iterator[tuple[Reference, Use]]:
    for doc in docs:
        spec = pod_spec(doc.obj)
        if spec is None:
            continue
        for key, init in CONTAINER_KEYS:
            for container in spec.get(key) or ():
                if not isinstance(container, Mapping) or not container.get("image"):
                    continue
                name = str(container.get("name") or "")
                ref = _parse(str(container["image"]), f"{doc.kind}/{doc.name} {name}")
                declared = str(container.get("imagePullPolicy") or "")
                policy = effective_policy(declared, ref)
                yield ref, Use(doc.kind, doc.name, name, init, policy, declared, CHART)


# --- the SWAN user pod -------------------------------------------------------------


def _image_of(node: Any) -> str:
    """z2jh's {name, tag} image (jupyterhub_config.py: name, then ":tag" if set)."""
    if not isinstance(node, Mapping) or not node.get("name"):
        return ""
    tag = node.get("tag")
    return f"{node['name']}:{tag}" if tag not in (None, "") else str(node["name"])


def hub_values(docs: Iterable[Document]) -> Mapping[str, Any] | None:
    """The values z2jh hands its hub (Secret data `values.yaml`), if rendered."""
    for doc in docs:
        if doc.kind != "Secret":
            continue
        data = doc.obj.get("data") or {}
        string_data = doc.obj.get("stringData") or {}
        text: str | None = None
        if isinstance(string_data, Mapping) and "values.yaml" in string_data:
            text = str(string_data["values.yaml"])
        elif isinstance(data, Mapping) and "values.yaml" in data:
            try:
                text = base64.b64decode(str(data["values.yaml"])).decode()
            except (binascii.Error, UnicodeDecodeError):
                continue
        if text is None:
            continue
        values = yaml.safe_load(text) or {}
        if isinstance(values, Mapping) and isinstance(values.get("singleuser"), Mapping):
            return values
    return None


def spawner_uses(values: Mapping[str, Any]) -> Iterator[tuple[Reference, Use]]:
    """The images of the pods the hub spawns, from its values."""
    single = values.get("singleuser") or {}
    image = single.get("image") or {}
    main = _image_of(image)
    if main:
        ref = _parse(main, "singleuser.image")
        declared = str(image.get("pullPolicy") or "")
        policy = effective_policy(declared, ref)
        yield ref, Use("UserPod", "jupyter-<user>", "notebook", False, policy, declared, SPAWNER)
    tools = _image_of((single.get("networkTools") or {}).get("image"))
    if tools and (single.get("cloudMetadata") or {}).get("blockWithIptables") is True:
        ref = _parse(tools, "singleuser.networkTools.image")
        policy = effective_policy("", ref)
        yield (
            ref,
            Use("UserPod", "jupyter-<user>", "block-cloud-metadata", True, policy, "", SPAWNER),
        )
    for index, profile in enumerate(single.get("profileList") or ()):
        override = (profile or {}).get("kubespawner_override") or {}
        if isinstance(override, Mapping) and override.get("image"):
            where = f"singleuser.profileList[{index}]"
            ref = _parse(str(override["image"]), where)
            declared = str(override.get("image_pull_policy") or image.get("pullPolicy") or "")
            policy = effective_policy(declared, ref)
            label = str(profile.get("display_name") or index)
            yield (
                ref,
                Use("UserPod", f"profile {label}", "notebook", False, policy, declared, SPAWNER),
            )
    config = (values.get("hub") or {}).get("config") or {}
    for cls, traits in config.items() if isinstance(config, Mapping) else ():
        if str(cls).endswith("Spawner") and isinstance(traits, Mapping) and traits.get("image"):
            ref = _parse(str(traits["image"]), f"hub.config.{cls}.image")
            declared = str(traits.get("image_pull_policy") or image.get("pullPolicy") or "")
            policy = effective_policy(declared, ref)
            yield ref, Use("UserPod", f"{cls}", "notebook", False, policy, declared, SPAWNER)


# --- all of it ---------------------------------------------------------------------


def group(pairs: Iterable[tuple[Reference, Use]]) -> list[Image]:
    """One Image per distinct reference, uses in order, images sorted by name."""
    uses: dict[Reference, list[Use]] = {}
    for ref, use in pairs:
        found = uses.setdefault(ref, [])
        if use not in found:
            found.append(use)
    return [
        Image(ref, tuple(found)) for ref, found in sorted(uses.items(), key=lambda i: str(i[0]))
    ]


def inventory(rendered: str, ingress: Sequence[tuple[str, Use]] = ()) -> list[Image]:
    """Every image of a rendered chart, the spawned user pod's and the
    ingress's (`ingress`: (image, use) pairs, see mboxed.images.ingress)."""
    docs = documents(rendered)
    pairs: list[tuple[Reference, Use]] = list(workload_uses(docs))
    values = hub_values(docs)
    if values is not None:
        pairs.extend(spawner_uses(values))
    pairs.extend((_parse(image, str(use)), use) for image, use in ingress)
    return group(pairs)


def not_if_not_present(images: Iterable[Image]) -> list[tuple[Image, Use]]:
    """Uses that would pull at every start (a restarted pod needs a registry)."""
    return [(img, use) for img in images for use in img.uses if use.pull_policy != IF_NOT_PRESENT]
