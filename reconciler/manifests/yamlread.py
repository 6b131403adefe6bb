"""Parse one YAML file into plain data plus a map of every path to its line and column."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from reconciler.state.errors import ManifestIssue

MAX_FILE_BYTES = 1024 * 1024
#: Aliases let a few lines expand into billions of nodes; no honest manifest comes near this.
MAX_NODES = 100_000

PathKey = tuple[str | int, ...]


@dataclass
class ParsedFile:
    """Plain data of one file and where each value (and each mapping key) stands in it."""

    file: str
    data: Any
    values: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    keys: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: PathKey, *, key: bool = False) -> tuple[int, int]:
        """The nearest known position of `path`, walking up to its parents when unknown."""
        index = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in index:
                return index[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))

    def issue(self, path: PathKey, message: str, *, key: bool = False) -> ManifestIssue:
        line, column = self.position(path, key=key)
        return ManifestIssue(self.file, line, column, render_path(path), message)


def render_path(path: PathKey) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class _NodeBudgetExceeded(Exception):
    pass


class _Converter:
    """Copies ruamel's tree into plain dicts/lists, recording positions and counting nodes."""

    def __init__(self, parsed: ParsedFile) -> None:
        self.parsed = parsed
        self.nodes = 0

    def convert(self, node: Any, path: PathKey) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _NodeBudgetExceeded
        if isinstance(node, CommentedMap):
            result: dict[Any, Any] = {}
            for key in node:
                child: PathKey = (*path, str(key))
                self.parsed.keys.setdefault(child, _one_based(node.lc.key(key)))
                self.parsed.values.setdefault(child, _one_based(node.lc.value(key)))
                result[key] = self.convert(node[key], child)
            return result
        if isinstance(node, CommentedSeq):
            items: list[Any] = []
            for i, item in enumerate(node):
                self.parsed.values.setdefault((*path, i), _one_based(node.lc.item(i)))
                items.append(self.convert(item, (*path, i)))
            return items
        if isinstance(node, str):
            return str(node)  # drop ruamel's scalar subclasses
        return node


def _one_based(position: Any) -> tuple[int, int]:
    line, column = position[0], position[1]
    return (int(line) + 1, int(column) + 1)


def parse_file(path: Path, display: str) -> tuple[ParsedFile | None, list[ManifestIssue]]:
    """Parse `path`; on failure return no data and the issues that explain why."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            message = f"file is {size} bytes; the limit is {MAX_FILE_BYTES}"
            return None, [ManifestIssue(display, 1, 1, "", message)]
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        return None, [ManifestIssue(display, 1, 1, "", f"not UTF-8 text: {e.reason}")]
    except OSError as e:
        return None, [ManifestIssue(display, 1, 1, "", f"cannot read file: {e.strerror}")]
    return parse_text(text, display)


def parse_text(text: str, display: str) -> tuple[ParsedFile | None, list[ManifestIssue]]:
    yaml = YAML(typ="rt")
    try:
        tree = yaml.load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = " ".join(part for part in (e.context, e.problem) if part) or str(e)
        return None, [ManifestIssue(display, line, column, "", f"YAML syntax error: {reason}")]
    except YAMLError as e:
        return None, [ManifestIssue(display, 1, 1, "", f"YAML error: {e}")]
    parsed = ParsedFile(display, None, {(): (1, 1)})
    try:
        parsed.data = _Converter(parsed).convert(tree, ())
    except (_NodeBudgetExceeded, RecursionError):
        message = f"document expands to more than {MAX_NODES} nodes (recursive or nested aliases?)"
        return None, [ManifestIssue(display, 1, 1, "", message)]
    return parsed, []
