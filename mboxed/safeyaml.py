"""The one YAML loader for what people write or edit by hand: profiles, -f
files, --set values and the state file.

PyYAML loads an alias as a second reference to the anchored object, so a few
lines of nested aliases ("billion laughs") load as a small graph that every
later walk (line numbers, validation, hashing, printing) sees as billions of
nodes. Aliases stay allowed (a Helm values block may reuse one with `*name`)
while what they add is small; more, or an alias inside itself, is refused.
Duplicate keys, which PyYAML settles silently by keeping the last one, are
refused too: a second `provider:` section is a mistake, not an override.
"""

from __future__ import annotations

from typing import Any

import yaml

# Nodes that aliases may add to the document beyond the ones written out.
MAX_ALIAS_NODES = 10_000

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):
    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # A scalar that resolves to a type Python then refuses to build (an
        # int of over 4300 digits, CVE-2020-10735; a timestamp like
        # 2024-02-30) raises ValueError from inside PyYAML: make it a YAML
        # error with the scalar's line, like every other.
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            # without Python's advice to call sys.set_int_max_str_digits
            problem = str(exc).split(";")[0]
            raise RefusedYaml(f"cannot read this value: {problem}", node.start_mark) from None


class RefusedYaml(yaml.MarkedYAMLError):
    """Valid YAML this loader will not build. `problem` and `problem_mark`
    are set as for PyYAML's own errors, so callers report both alike."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem=problem, problem_mark=mark)


def load(text: str) -> tuple[Any, yaml.Node | None]:
    """The document and its node graph (for line numbers); None for an empty one."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        check(node)
        return loader.construct_document(node), node
    except RecursionError:
        raise RefusedYaml("nested too deeply", None) from None
    finally:
        loader.dispose()


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def check(root: yaml.Node) -> None:
    """Refuse duplicate keys, an alias inside itself, and aliases that add
    more than MAX_ALIAS_NODES nodes. Iterative and memoised: linear in the
    nodes written out, whatever they expand to."""
    expanded: dict[int, int] = {}  # id(node) -> nodes it stands for, aliases expanded
    ancestors: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            ancestors.discard(key)
            expanded[key] = 1 + sum(expanded[id(child)] for child in _children(node))
            # Its own nodes are at most all those seen so far: beyond them
            # plus the limit, aliases within it add too many.
            if expanded[key] > len(expanded) + MAX_ALIAS_NODES:
                raise RefusedYaml(
                    f"its aliases (*name) expand to over {MAX_ALIAS_NODES} more nodes "
                    "than are written out; write the values out instead",
                    node.start_mark,
                )
            continue
        if key in expanded:
            continue
        if key in ancestors:
            raise RefusedYaml("an alias refers to the node that contains it", node.start_mark)
        if isinstance(node, yaml.MappingNode):
            _check_keys(node)
        ancestors.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in expanded)


def _check_keys(node: yaml.MappingNode) -> None:
    seen: set[tuple[str, str]] = set()
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            continue
        ident = (key_node.tag, key_node.value)
        if ident in seen:
            raise RefusedYaml(f"duplicate key {key_node.value!r}", key_node.start_mark)
        seen.add(ident)
