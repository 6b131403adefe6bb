"""Is what a dump command produced a dump? Checks for commands that exit 0 and still failed.

Two signs, both cheap and streaming: the output must start the way the engine's dumps always
start (an error message printed to stdout does not), and stderr must hold no error line (some
tools report a failure there and still exit 0).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from reconciler.state.errors import BackupError

#: A line a tool writes when something failed: "ERROR: ...", "mysqldump: Got error: ...".
_ERROR_LINE = re.compile(r"^.*\b(error|fatal)\b.*$", re.IGNORECASE | re.MULTILINE)
#: Shown from output that is not a dump: enough to recognise an error message, no more.
SHOWN_BYTES = 120


class HeadProbe:
    """Keeps the first bytes of a stream (what the magic check needs) as it passes through."""

    def __init__(
        self, sink: Callable[[bytes], None], magic: bytes, offset: int, window: int = 0
    ) -> None:
        self.sink = sink
        self.magic = magic
        self.offset = offset
        self.window = window
        self.head = b""
        self._wanted = max(offset + window + len(magic), SHOWN_BYTES)

    def write(self, chunk: bytes) -> None:
        if len(self.head) < self._wanted:
            self.head += chunk[: self._wanted - len(self.head)]
        self.sink(chunk)

    def check(self, what: str) -> None:
        """Raise BackupError when the output does not start like a dump of this kind."""
        if not self.magic:
            return
        if self.magic in self.head[self.offset : self.offset + self.window + len(self.magic)]:
            return
        shown = self.head[:SHOWN_BYTES].decode("utf-8", "replace")
        printable = "".join(c if c.isprintable() else " " for c in shown).strip()
        raise BackupError(
            f"{what} exited 0 but its output is not a dump (it should start with "
            f"{self.magic!r}); it began: {printable!r}"
        )


def reported_error(stderr: str) -> str | None:
    """The last error line a command wrote to stderr, if it wrote one."""
    lines = [match.group(0).strip() for match in _ERROR_LINE.finditer(stderr)]
    return lines[-1] if lines else None
