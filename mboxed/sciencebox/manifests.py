"""Checks on rendered manifests (`helm template` output or a release's
manifest): pure functions of the text, no cluster.

The API server refuses a workload whose containers mount a volume its pod
does not define (`spec.template.spec.containers[].volumeMounts[].name: Not
found`), so `helm upgrade --install` fails only at apply time, after a render
and `helm lint` that both passed. ScienceBox 0.0.8 does this to the EOS fst,
mgm and qdb StatefulSets (two versions of EOS `utils` define the same
template; see tests/charts/sciencebox). `missing_volumes` finds it before.

Rendered charts are not always strict YAML: EOS fst renders
`EOS_SKIP_SSS_HOSTNAME_MATCH: !!integer 1`, a tag PyYAML does not know and
Kubernetes reads as the string "1". Unknown tags load as their plain value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from mboxed.sciencebox.postrender import source_of, split_documents

# kind -> path from the object to its pod spec (Kubernetes API: core/v1 Pod,
# apps/v1 workloads, batch/v1 Job and CronJob)
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


class _LenientLoader(yaml.SafeLoader):
    """SafeLoader that reads an unknown tag's node as if it had none."""


def _untagged(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise yaml.constructor.ConstructorError(None, None, f"unexpected node {node!r}")


_LenientLoader.add_constructor(None, _untagged)


@dataclass(frozen=True)
class Document:
    source: str  # the template it came from (Helm's `# Source:` line), "" if none
    obj: Mapping[str, Any]

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind") or "")

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name") or "")


def documents(stream: str) -> list[Document]:
    """The objects of a rendered stream, each with its template; empty
    documents (a template that rendered nothing) are left out."""
    found = []
    for text in split_documents(stream):
        source = source_of(text)
        try:
            obj = yaml.load(text, Loader=_LenientLoader)  # a SafeLoader subclass
        except yaml.YAMLError as exc:
            raise ValueError(f"{source or 'a rendered document'} is not YAML: {exc}") from exc
        if isinstance(obj, Mapping):
            found.append(Document(source, obj))
    return found


def pod_spec(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    node: Any = obj
    for key in POD_SPEC_PATHS.get(str(obj.get("kind") or ""), ()):
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) and node is not obj else None


@dataclass(frozen=True)
class MissingVolume:
    source: str
    kind: str
    name: str
    container: str
    volume: str

    def __str__(self) -> str:
        return (
            f"{self.kind}/{self.name}: container {self.container!r} mounts volume "
            f"{self.volume!r}, which its pod does not define ({self.source or 'no source'})"
        )


def _names(items: Any) -> Iterator[str]:
    for item in items if isinstance(items, Sequence) else ():
        if isinstance(item, Mapping) and item.get("name"):
            yield str(item["name"])


def defined_volumes(obj: Mapping[str, Any]) -> set[str]:
    """The pod's volumes, and for a StatefulSet its volumeClaimTemplates
    (each becomes a volume of that name in every pod it creates)."""
    spec = pod_spec(obj) or {}
    names = set(_names(spec.get("volumes")))
    if obj.get("kind") == "StatefulSet":
        for claim in (obj.get("spec") or {}).get("volumeClaimTemplates") or ():
            if isinstance(claim, Mapping):
                names.update(_names([claim.get("metadata") or {}]))
    return names


def missing_volumes(stream: str) -> list[MissingVolume]:
    """Every volumeMount (and volumeDevice) naming a volume its pod lacks."""
    missing = []
    for doc in documents(stream):
        spec = pod_spec(doc.obj)
        if spec is None:
            continue
        defined = defined_volumes(doc.obj)
        for key in CONTAINER_LISTS:
            for container in spec.get(key) or ():
                if not isinstance(container, Mapping):
                    continue
                used = [
                    *_names(container.get("volumeMounts")),
                    *_names(container.get("volumeDevices")),
                ]
                for volume in dict.fromkeys(used):
                    if volume not in defined:
                        missing.append(
                            MissingVolume(
                                doc.source,
                                doc.kind,
                                doc.name,
                                str(container.get("name") or ""),
                                volume,
                            )
                        )
    return missing
