"""Load stack.yaml and its includes into one validated Stack, or raise every issue found."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from reconciler.manifests.models import PATTERN_HINTS, Sections, Stack
from reconciler.manifests.semantics import check_stack
from reconciler.manifests.yamlread import ParsedFile, PathKey, parse_file
from reconciler.state.errors import ManifestErrors, ManifestIssue

ROOT_FILE = "stack.yaml"
MAX_INCLUDED_FILES = 200
SECTIONS = ("apps", "addons", "backups", "tasks")
M = TypeVar("M", bound=BaseModel)
#: pydantic error types that mean "wrong type", and what was expected instead.
EXPECTED_TYPES = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
#: Messages for pydantic's bound errors, formatted with the error's ctx and `got`.
BOUNDS = {
    "greater_than_equal": "must be at least {ge}, got {got}",
    "less_than_equal": "must be at most {le}, got {got}",
    "greater_than": "must be more than {gt}, got {got}",
    "less_than": "must be less than {lt}, got {got}",
    "too_short": "must have at least {min_length} item(s)",
    "too_long": "must have at most {max_length} item(s)",
    "string_too_long": "must be at most {max_length} characters long",
    "string_too_short": "must be at least {min_length} characters long",
}


@dataclass(frozen=True)
class LoadedStack:
    """A validated stack, its root directory, and where each declared object was written."""

    root: Path
    stack: Stack
    files: tuple[str, ...]
    origins: dict[tuple[str, str], ParsedFile] = field(default_factory=dict)


def resolve_root(path: Path) -> tuple[Path, Path]:
    """Accept a directory holding stack.yaml or the file itself; return (root dir, file)."""
    if path.is_dir():
        return path, path / ROOT_FILE
    return path.parent, path


#: A check that needs more than the models know (e.g. the add-on catalog), run after the rest.
ExtraCheck = Callable[[Stack, dict[tuple[str, str], ParsedFile]], list[ManifestIssue]]


def load_stack(path: Path, extra_checks: Sequence[ExtraCheck] = ()) -> LoadedStack:
    root, root_file = resolve_root(path)
    if not root_file.exists():
        issue = ManifestIssue(str(root_file), 1, 1, "", "no such file (expected a stack.yaml)")
        raise ManifestErrors([issue])
    issues: list[ManifestIssue] = []
    parsed, parse_issues = parse_file(root_file, _display(root_file, root))
    if parsed is None:
        raise ManifestErrors(parse_issues)
    stack = _validate(parsed, Stack, issues)
    if stack is None:
        # Includes still get checked so one pass reports every broken file.
        includes = parsed.data.get("include", []) if isinstance(parsed.data, dict) else []
        patterns = includes if isinstance(includes, list) else []
        _load_includes(root, patterns, parsed, issues, root_file)
        raise ManifestErrors(issues)
    included = _load_includes(root, stack.include, parsed, issues, root_file)
    # Cross-object checks need every file: with one missing they would report false dangling
    # references to the objects it declares.
    complete = not issues
    merged, origins = _merge(stack, parsed, included, issues)
    if complete:
        issues.extend(check_stack(merged, origins, parsed))
        for check in extra_checks:
            issues.extend(check(merged, origins))
    if issues:
        raise ManifestErrors(issues)
    files = (parsed.file, *(p.file for p, _ in included))
    return LoadedStack(root, merged, files, origins)


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _load_includes(
    root: Path,
    patterns: list[Any],
    parent: ParsedFile,
    issues: list[ManifestIssue],
    root_file: Path,
) -> list[tuple[ParsedFile, Sections]]:
    resolved_root = root.resolve()
    seen: set[Path] = {root_file.resolve()}  # a glob like "*.yaml" must not include the root
    loaded: list[tuple[ParsedFile, Sections]] = []
    for index, pattern in enumerate(patterns):
        where: PathKey = ("include", index)
        if not isinstance(pattern, str):
            continue
        if not pattern.strip():
            issues.append(parent.issue(where, "empty include pattern"))
            continue
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            issues.append(
                parent.issue(where, f"{pattern!r} must be a relative path inside the repo")
            )
            continue
        matches = sorted(root.glob(pattern))
        if not matches and not any(ch in pattern for ch in "*?["):
            issues.append(parent.issue(where, f"{pattern!r} matches no file"))
        for match in matches:
            real = match.resolve()
            if not real.is_relative_to(resolved_root):
                message = f"{_display(match, root)} resolves outside the repo through a symlink"
                issues.append(parent.issue(where, message))
                continue
            if real in seen or not real.is_file():
                continue
            seen.add(real)
            if len(seen) > MAX_INCLUDED_FILES:
                issues.append(parent.issue(where, f"more than {MAX_INCLUDED_FILES} included files"))
                return loaded
            parsed, parse_issues = parse_file(match, _display(match, root))
            issues.extend(parse_issues)
            if parsed is not None and (sections := _validate(parsed, Sections, issues)):
                loaded.append((parsed, sections))
    return loaded


def _merge(
    stack: Stack,
    parsed: ParsedFile,
    included: list[tuple[ParsedFile, Sections]],
    issues: list[ManifestIssue],
) -> tuple[Stack, dict[tuple[str, str], ParsedFile]]:
    origins: dict[tuple[str, str], ParsedFile] = {}
    merged: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    for source, sections in [(parsed, typing.cast(Sections, stack)), *included]:
        for section in SECTIONS:
            for name, value in getattr(sections, section).items():
                first = origins.get((section, name))
                if first is not None:
                    line, column = first.position((section, name), key=True)
                    message = f"duplicate name, also defined at {first.file}:{line}:{column}"
                    issues.append(source.issue((section, name), message, key=True))
                    continue
                origins[(section, name)] = source
                merged[section][name] = value
    return stack.model_copy(update=merged), origins


def _validate(parsed: ParsedFile, model: type[M], issues: list[ManifestIssue]) -> M | None:
    if not isinstance(parsed.data, dict):
        got = "an empty file" if parsed.data is None else _describe(parsed.data)
        message = f"expected a mapping at the top of the file, got {got}"
        issues.append(parsed.issue((), message))
        return None
    try:
        return model.model_validate(parsed.data)
    except ValidationError as e:
        for error in e.errors():
            issue = _issue_from_error(parsed, model, error)
            if issue not in issues:
                issues.append(issue)
        return None


def _issue_from_error(parsed: ParsedFile, model: type[BaseModel], error: Any) -> ManifestIssue:
    path, on_key = _data_path(parsed.data, error["loc"])
    kind = error["type"]
    value = error.get("input")
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, path[:-1])
        message = f"unknown key {path[-1]!r}"
        close = difflib.get_close_matches(str(path[-1]), allowed, n=1)
        message += f" (did you mean {close[0]!r}?)" if close else f"; allowed: {', '.join(allowed)}"
        on_key = True
    elif kind == "missing":
        message = f"required key {path[-1]!r} is missing"
        on_key = True  # point at the mapping's own key: the missing one has no position
    elif kind == "string_pattern_mismatch" and (
        hint := PATTERN_HINTS.get(str((error.get("ctx") or {}).get("pattern")))
    ):
        message = f"{value!r} is not {hint}"
    elif kind == "string_type":
        hint = PATTERN_HINTS.get(_field_pattern(model, path) or "")
        scalar = isinstance(value, str | int | float | bool) or value is None
        message = f"{_describe(value)} is not {hint}" if hint and scalar else ""
        message = message or f"expected a string, got {_describe(value)}"
    elif kind in EXPECTED_TYPES:
        message = f"expected {EXPECTED_TYPES[kind]}, got {_describe(value)}"
    elif kind == "literal_error":
        message = f"expected {error['ctx']['expected']}, got {_describe(value)}"
    elif kind in BOUNDS:
        message = BOUNDS[kind].format(**(error.get("ctx") or {}), got=_describe(value))
    return parsed.issue(path, message, key=on_key)


def _describe(value: Any) -> str:
    """A value as the user wrote it in YAML, short enough for a one-line message."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[PathKey, bool]:
    """Map pydantic's loc onto the data, dropping union tags and noting dict-key errors."""
    path: list[str | int] = []
    node = data
    on_key = False
    for part in loc:
        if part == "[key]":
            on_key = True
            break
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            node = node[part]
            path.append(part)
        elif isinstance(node, dict) or node is None:
            path.append(part)  # a missing or unknown key: keep it for the message
            node = None
    return tuple(path), on_key


def _allowed_keys(model: type[BaseModel], path: PathKey) -> list[str]:
    """The keys a mapping at `path` accepts, walking the model's field annotations."""
    current: Any = model
    for part in path:
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {(f.alias or n): f.annotation for n, f in current.model_fields.items()}
            current = fields.get(str(part))
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        current = _unwrap_optional(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted((f.alias or n) for n, f in current.model_fields.items())
    return []


def _field_pattern(model: type[BaseModel], path: PathKey) -> str | None:
    """The regex a string at `path` must match, read from the model's annotations."""
    current: Any = model
    metadata: list[Any] = []
    for part in path:
        current, metadata = _unwrap(current, metadata)
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {(f.alias or n): f for n, f in current.model_fields.items()}
            info = fields.get(str(part))
            if info is None:
                return None
            current, metadata = info.annotation, list(info.metadata)
        elif typing.get_origin(current) in (dict, list):
            current, metadata = typing.get_args(current)[-1], []
        else:
            return None
    _, metadata = _unwrap(current, metadata)
    patterns = [getattr(item, "pattern", None) for item in metadata]
    return next((p for p in patterns if isinstance(p, str)), None)


def _unwrap(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any]]:
    """Strip Optional[...] and Annotated[...] from an annotation, collecting Annotated metadata."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation, *extra = typing.get_args(annotation)
            metadata = [*metadata, *extra]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation, metadata
            annotation = args[0]
        else:
            return annotation, metadata


def _unwrap_optional(annotation: Any) -> Any:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if args and typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return args[0]
    return annotation
