"""Parse one YAML file into plain data plus a map of every path to its line and column."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.manifests.fastyaml import parse_fast
from reconciler.manifests.yamlread_types import (
    MAX_FILE_BYTES,
    MAX_NODES,
    ParsedFile,
    PathKey,
    render_path,
)
from reconciler.state.errors import ManifestIssue

if TYPE_CHECKING:
    from ruamel.yaml.constructor import DuplicateKeyError
    from ruamel.yaml.error import MarkedYAMLError

__all__ = ["MAX_FILE_BYTES", "MAX_NODES", "ParsedFile", "PathKey", "parse_file", "render_path"]


class _NodeBudgetExceeded(Exception):
    pass


def expanded_size(tree: Any) -> int:
    """How many values `tree` holds once every alias is expanded; linear in the unique nodes.

    Aliases share one object per anchor, so sizes are memoized by identity: a "billion laughs"
    document is measured (and refused) in milliseconds instead of being walked.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    sizes: dict[int, int] = {}

    def size(node: Any) -> int:
        if not isinstance(node, CommentedMap | CommentedSeq):
            return 1
        key = id(node)
        if key not in sizes:
            children = node.values() if isinstance(node, CommentedMap) else node
            sizes[key] = 1 + sum(size(child) for child in children)
        return sizes[key]

    return size(tree)


class _Converter:
    """Copies ruamel's tree into plain dicts/lists, recording positions and counting nodes."""

    def __init__(self, parsed: ParsedFile) -> None:
        self.parsed = parsed
        self.nodes = 0

    def convert(self, node: Any, path: PathKey) -> Any:
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _NodeBudgetExceeded
        if isinstance(node, CommentedMap):
            result: dict[str, Any] = {}
            for key in node:
                text = _key_text(key)
                child: PathKey = (*path, text)
                # Keys pulled in by a `<<` merge have no position of their own in this mapping.
                where = node.lc.data.get(key)
                if where is not None:
                    self.parsed.keys.setdefault(child, (where[0] + 1, where[1] + 1))
                    self.parsed.values.setdefault(child, (where[2] + 1, where[3] + 1))
                result[text] = self.convert(node[key], child)
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


def _key_text(key: Any) -> str:
    """Mapping keys as text, the way YAML wrote them: `1:` is "1", `true:` is "true"."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


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


#: Deeper flow nesting than any manifest needs; the pure-Python parser slows badly past it.
MAX_FLOW_DEPTH = 64
MAX_INDENT = 256


def _flow_depth_problem(text: str, display: str) -> ManifestIssue | None:
    """Refuse bracket towers before parsing: they cost seconds of parser time, not data."""
    depth = 0
    line = 1
    for char in text:
        if char == "\n":
            line += 1
        elif char in "[{":
            depth += 1
            if depth > MAX_FLOW_DEPTH:
                message = (
                    f"brackets are nested more than {MAX_FLOW_DEPTH} deep; refusing to read it"
                )
                return ManifestIssue(display, line, 1, "", message)
        elif char in "]}" and depth:
            depth -= 1
    for number, text_line in enumerate(text.splitlines(), start=1):
        if len(text_line) - len(text_line.lstrip(" -")) > MAX_INDENT:
            message = f"indented more than {MAX_INDENT} columns; refusing to read it"
            return ManifestIssue(display, number, 1, "", message)
    return None


def parse_text(
    text: str, display: str, *, fast: bool = True
) -> tuple[ParsedFile | None, list[ManifestIssue]]:
    # Brackets inside quoted strings count too; a manifest never needs 64 of them in a row.
    too_deep = _flow_depth_problem(text, display)
    if too_deep is not None:
        return None, [too_deep]
    quick = parse_fast(text, display) if fast else None
    if quick is not None:
        return quick, []
    # The reference reader: pure Python, slower, and the source of every YAML error message.
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import DuplicateKeyError
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt")
    try:
        tree = yaml.load(text)
    except DuplicateKeyError as e:
        return None, [_duplicate_key_issue(e, display)]
    except MarkedYAMLError as e:
        return None, [_syntax_issue(e, display)]
    except YAMLError as e:
        return None, [ManifestIssue(display, 1, 1, "", f"YAML error: {e}")]
    except RecursionError:
        message = "mappings and lists are nested too deeply to read"
        return None, [ManifestIssue(display, 1, 1, "", message)]
    parsed = ParsedFile(display, None, {(): (1, 1)})
    try:
        size = expanded_size(tree)
        if size > MAX_NODES:
            raise _NodeBudgetExceeded(size)
        parsed.data = _Converter(parsed).convert(tree, ())
    except (_NodeBudgetExceeded, RecursionError) as e:
        size_text = f"{e.args[0]:,}" if e.args else f"more than {MAX_NODES:,}"
        message = (
            f"YAML aliases expand this document to {size_text} values; the limit is "
            f"{MAX_NODES:,} (an alias bomb?); refusing to read it"
        )
        return None, [ManifestIssue(display, 1, 1, "", message)]
    return parsed, []


def _duplicate_key_issue(error: DuplicateKeyError, display: str) -> ManifestIssue:
    mark = error.problem_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    found = re.match(r'found duplicate key "(.*?)" with value', error.problem or "")
    key = repr(found.group(1)) if found else "key"
    message = f"duplicate key {key}: it is already set in this mapping"
    if error.context_mark is not None:
        start = error.context_mark
        message += f" (which starts at line {start.line + 1}, column {start.column + 1})"
    return ManifestIssue(display, line, column, "", message)


def _syntax_issue(error: MarkedYAMLError, display: str) -> ManifestIssue:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    reason = error.problem or error.context or str(error)
    start = error.context_mark
    if error.problem and error.context and start is not None:
        where = f"line {start.line + 1}, column {start.column + 1}"
        reason += f" ({error.context} that starts at {where})"
    return ManifestIssue(display, line, column, "", f"YAML syntax error: {reason}")
