"""Is what a dump command produced a dump? Checks for commands that exit 0 and still failed.

Two signs, both cheap and streaming: the output must start the way the engine's dumps always
start (an error message printed to stdout does not), and stderr must hold no error line (some
tools report a failure there and still exit 0).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.state.errors import BackupError

#: A line a tool writes when something failed: "ERROR: ...", "mysqldump: Got error: ...".
_ERROR_LINE = re.compile(r"^.*\b(error|fatal)\b.*$", re.IGNORECASE | re.MULTILINE)
#: Shown from output that is not a dump: enough to recognise an error message, no more.
SHOWN_BYTES = 120


@dataclass(frozen=True)
class DumpShape:
    """What a whole dump holds: `magic` at `offset` (or within `window` bytes after it) and
    `trailer` somewhere in its last `trailer_window` bytes. Empty parts are not checked."""

    magic: bytes = b""
    offset: int = 0
    window: int = 0
    trailer: bytes = b""
    trailer_window: int = 0


class HeadProbe:
    """Keeps a stream's first and last bytes (what the shape checks need) as it passes through."""

    def __init__(self, sink: Callable[[bytes], None], shape: DumpShape) -> None:
        self.sink = sink
        self.shape = shape
        self.head = b""
        self.tail = b""
        self._wanted = max(shape.offset + shape.window + len(shape.magic), SHOWN_BYTES)

    def write(self, chunk: bytes) -> None:
        if len(self.head) < self._wanted:
            self.head += chunk[: self._wanted - len(self.head)]
        if self.shape.trailer_window:
            self.tail = (self.tail + chunk[-self.shape.trailer_window :])[
                -self.shape.trailer_window :
            ]
        self.sink(chunk)

    def check(self, what: str) -> None:
        """Raise BackupError when the output does not start, or end, like a whole dump."""
        shape = self.shape
        start = self.head[shape.offset : shape.offset + shape.window + len(shape.magic)]
        if shape.magic and shape.magic not in start:
            shown = self.head[:SHOWN_BYTES].decode("utf-8", "replace")
            printable = "".join(c if c.isprintable() else " " for c in shown).strip()
            raise BackupError(
                f"{what} exited 0 but its output is not a dump (it should start with "
                f"{shape.magic!r}); it began: {printable!r}"
            )
        if shape.trailer and shape.trailer not in self.tail:
            raise BackupError(
                f"{what} exited 0 but its output is cut short: a whole dump ends with "
                f"{shape.trailer[:24]!r}"
            )


def reported_error(stderr: str) -> str | None:
    """The last error line a command wrote to stderr, if it wrote one."""
    lines = [match.group(0).strip() for match in _ERROR_LINE.finditer(stderr)]
    return lines[-1] if lines else None
