"""YAML documents that remember where each value was written, so errors can name the line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from innofin.kernel.errors import InvalidInput

Path = tuple[str | int, ...]


class YamlError(InvalidInput):
    """A YAML document that is malformed or does not fit its schema; names file and line."""


@dataclass(frozen=True)
class YamlDocument:
    source: str
    data: Any
    #: path of keys and list indices → 1-based line of that key (or of that list item)
    lines: dict[Path, int]

    def line_of(self, loc: Sequence[str | int]) -> int:
        """The line of the deepest known path along `loc` (parts not in the document are skipped,
        such as the tags pydantic adds for unions)."""
        path: Path = ()
        for part in loc:
            candidate = (*path, part)
            if candidate in self.lines:
                path = candidate
        return self.lines.get(path, 1)

    def error(self, loc: Sequence[str | int], message: str) -> YamlError:
        where = ".".join(str(p) for p in loc)
        field = f" ({where})" if where else ""
        return YamlError(f"{self.source}, line {self.line_of(loc)}{field}: {message}", field=where)


def load_yaml(text: str, source: str) -> YamlDocument:
    """Parse one YAML document; duplicate keys are refused, like any other error, with a line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlError(f"{source}{line}: not valid YAML: {problem}") from None
    lines: dict[Path, int] = {}
    if node is None:
        raise YamlError(f"{source}: the document is empty")
    data = _build(node, (), lines, source, SafeConstructor())
    return YamlDocument(source, data, lines)


def _build(
    node: yaml.Node, path: Path, lines: dict[Path, int], source: str, ctor: SafeConstructor
) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = ctor.construct_object(key_node, deep=True)
            if not isinstance(key, str | int):
                raise YamlError(f"{source}, line {key_node.start_mark.line + 1}: keys must be text")
            if key in out:
                raise YamlError(
                    f"{source}, line {key_node.start_mark.line + 1}: {key!r} is given twice"
                )
            # the key's line: where a misspelt key or a bad nested block is to be found
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, (*path, key), lines, source, ctor)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(v, (*path, i), lines, source, ctor) for i, v in enumerate(node.value)]
    return ctor.construct_object(node, deep=True)
