"""The fast path for reading YAML: libyaml (PyYAML's C parser) composes the node tree with
positions, and values are resolved by the YAML 1.2 core schema, as ruamel does.

ruamel's pure-Python round-trip parser is the reference: it gives the precise messages for
every kind of broken input. This path only reads documents it fully understands (no explicit
tags, merge keys, duplicate keys or timestamp-like scalars) and returns None for anything
else, so the caller falls back to ruamel and the result is always the same.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from reconciler.manifests.yamlread_types import MAX_NODES, ParsedFile, PathKey

_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_TIMESTAMP_LIKE = re.compile(r"^\d{4}-\d\d?-\d\d?")
_UNDERSCORED = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?$")
_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


class _Loader(yaml.CSafeLoader):
    """libyaml's parser with YAML 1.2 core-schema resolution (yes/no/on/off stay strings)."""


_Loader.yaml_implicit_resolvers = {}
for _tag, _regexp, _first in (
    ("tag:yaml.org,2002:bool", _BOOL, "tTfF"),
    ("tag:yaml.org,2002:int", _INT, "-+0123456789"),
    ("tag:yaml.org,2002:float", _FLOAT, "-+0123456789."),
    ("tag:yaml.org,2002:null", _NULL, "~nN"),
):
    _Loader.add_implicit_resolver(_tag, _regexp, list(_first))
_Loader.add_implicit_resolver("tag:yaml.org,2002:null", _NULL, [""])
_Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])


class _Unsupported(Exception):
    """The document uses something this path does not handle; ruamel will."""


def parse_fast(text: str, display: str) -> ParsedFile | None:
    """The parsed file, or None when ruamel must read it (errors and unusual documents)."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except (yaml.YAMLError, RecursionError, UnicodeError):
        return None
    parsed = ParsedFile(display, None, {(): (1, 1)})
    try:
        if root is not None and _expanded_size(root) > MAX_NODES:
            return None
        parsed.data = _convert(root, (), parsed) if root is not None else None
    except (_Unsupported, RecursionError, ValueError):
        return None
    return parsed


def _expanded_size(root: yaml.Node) -> int:
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if isinstance(node, yaml.ScalarNode):
            return 1
        key = id(node)
        if key not in sizes:
            sizes[key] = -1  # a node reached again while being measured: a recursive alias
            if isinstance(node, yaml.MappingNode):
                children = [value for _, value in node.value]
            else:
                children = list(node.value)
            sizes[key] = 1 + sum(size(child) for child in children)
        if sizes[key] < 0:
            raise _Unsupported("recursive alias")
        return sizes[key]

    return size(root)


def _position(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _convert(node: yaml.Node, path: PathKey, parsed: ParsedFile) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node)
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _SEQ:
            raise _Unsupported(node.tag)
        items = []
        for index, item in enumerate(node.value):
            parsed.values.setdefault((*path, index), _position(item))
            items.append(_convert(item, (*path, index), parsed))
        return items
    if not isinstance(node, yaml.MappingNode) or node.tag != _MAP:
        raise _Unsupported(str(node.tag))
    result: dict[str, Any] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            raise _Unsupported("complex or merge key")
        raw_key = _scalar(key_node)
        if not isinstance(raw_key, str):
            raise _Unsupported("non-text key")  # rare; ruamel's reading is the reference
        key = raw_key
        if key in result:
            raise _Unsupported("duplicate key")  # ruamel words this error
        child: PathKey = (*path, key)
        parsed.keys.setdefault(child, _position(key_node))
        parsed.values.setdefault(child, _position(value_node))
        result[key] = _convert(value_node, child, parsed)
    return result


def _scalar(node: yaml.ScalarNode) -> Any:
    value: str = node.value
    tag = node.tag
    if tag == _STR:
        if not node.style and (_TIMESTAMP_LIKE.match(value) or _UNDERSCORED.match(value)):
            raise _Unsupported("timestamp or 1_000")  # ruamel reads dates and YAML 1.1 numbers
        return value
    if tag == "tag:yaml.org,2002:bool":
        return value.lower() == "true"
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:int":
        return int(value, 0) if value[:2] in ("0o", "0x") else int(value, 10)
    if tag == "tag:yaml.org,2002:float":
        lowered = value.lower().lstrip("+")
        if lowered in (".inf", "-.inf"):
            return -math.inf if lowered.startswith("-") else math.inf
        return math.nan if lowered == ".nan" else float(value)
    raise _Unsupported(tag)
