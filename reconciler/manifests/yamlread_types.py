"""What a parsed manifest file is: plain data plus the line and column of every path."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
