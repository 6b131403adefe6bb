"""Container logs for the API: the last lines of several containers merged in time order, and
following them as they are written.

Following runs one thread per container (not the shared executor, which passes need) that keeps
reading until told to stop: a stop closes the engine stream under the blocked read. A container
that stops or is replaced ends the engine's stream; the follower reopens it by name and skips
lines it already sent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from reconciler.api.errors import ApiError
from reconciler.observed.port import DockerPort
from reconciler.state.errors import ReconcilerError

MAX_LINES = 10_000
REOPEN_DELAY_SECONDS = 1.0


@dataclass(frozen=True)
class LogLine:
    at_ns: int  # nanoseconds since the epoch, for ordering and de-duplication
    timestamp: str  # as the engine wrote it (RFC 3339, nanoseconds)
    container: str
    message: str

    def render(self) -> str:
        return f"{self.timestamp} {self.container} {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"timestamp": self.timestamp, "container": self.container, "message": self.message}


def parse_since(value: str | None) -> float | None:
    """ISO 8601 (a naive time is UTC) to a unix time; None when absent."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError as e:
        raise ApiError(400, f"since must be an ISO 8601 time, got {value!r}") from e
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def parse_lines(value: str | None, default: int = 100) -> int:
    try:
        lines = int(value) if value else default
    except ValueError as e:
        raise ApiError(400, "lines must be an integer") from e
    if not 1 <= lines <= MAX_LINES:
        raise ApiError(400, f"lines must be 1-{MAX_LINES}")
    return lines


def stamp_ns(stamp: str) -> int:
    """'2026-01-02T03:04:05.123456789Z' to integer nanoseconds (0 when it is not a time)."""
    whole, _, rest = stamp.rstrip("Z").partition(".")
    digits = "".join(ch for ch in rest if ch.isdigit())[:9]
    try:
        seconds = datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return 0
    return int(seconds) * 1_000_000_000 + int(digits.ljust(9, "0") or 0)


def parse_line(raw: str, container: str) -> LogLine:
    stamp, _, message = raw.partition(" ")
    return LogLine(stamp_ns(stamp), stamp, container, message)


class LineSplitter:
    """Whole lines out of arbitrary chunks (frames may split or join lines)."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> list[str]:
        self._pending += chunk
        *complete, self._pending = self._pending.split(b"\n")
        return [line.decode("utf-8", "replace").rstrip("\r") for line in complete]

    def flush(self) -> list[str]:
        rest, self._pending = self._pending, b""
        return [rest.decode("utf-8", "replace")] if rest else []


def _read_one(port: DockerPort, name: str, lines: int, since: float | None) -> list[LogLine]:
    splitter = LineSplitter()
    out: list[LogLine] = []
    for chunk in port.stream_logs(name, since, lines, False):
        out.extend(parse_line(raw, name) for raw in splitter.feed(chunk))
    out.extend(parse_line(raw, name) for raw in splitter.flush())
    return out


def read_logs(
    port: DockerPort, containers: Sequence[str], lines: int, since: float | None
) -> list[LogLine]:
    """The last `lines` lines across `containers`, oldest first."""
    if not containers:
        return []
    with ThreadPoolExecutor(max_workers=min(len(containers), 8)) as pool:
        parts = list(pool.map(lambda name: _read_one(port, name, lines, since), containers))
    merged = sorted((line for part in parts for line in part), key=lambda x: x.at_ns)
    return merged[-lines:]


class Follower:
    """Follows one container's log in a thread, handing each new line to `deliver`."""

    def __init__(
        self,
        port: DockerPort,
        name: str,
        tail: int,
        since: float | None,
        deliver: Callable[[LogLine], None],
    ) -> None:
        self._port = port
        self._name = name
        self._tail = tail
        self._since = since
        self._deliver = deliver
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._stream: Iterator[bytes] | None = None
        self._seen = 0  # newest line handed over, kept across a failed read
        self._thread = threading.Thread(target=self._run, name=f"logs-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            stream, self._stream = self._stream, None
        close = getattr(stream, "close", None)
        if callable(close):
            close()

    def _run(self) -> None:
        last_ns = 0
        since: float | None = self._since
        tail: int | None = self._tail
        while not self._stop.is_set():
            opened_at = time.time()
            try:
                last_ns = self._pump(since, tail, last_ns)
            except ReconcilerError:
                last_ns = max(last_ns, self._seen)  # removed or being replaced: retry by name
            # Reopen from the last line seen (whole seconds; already-sent lines are skipped).
            since = last_ns / 1e9 if last_ns else (since or opened_at)
            tail = None
            self._stop.wait(REOPEN_DELAY_SECONDS)

    def _pump(self, since: float | None, tail: int | None, last_ns: int) -> int:
        stream = self._port.stream_logs(self._name, since, tail, True)
        with self._lock:
            if self._stop.is_set():
                getattr(stream, "close", lambda: None)()
                return last_ns
            self._stream = stream
        splitter = LineSplitter()
        for chunk in stream:
            for raw in splitter.feed(chunk):
                line = parse_line(raw, self._name)
                if line.at_ns and line.at_ns <= last_ns:
                    continue
                last_ns = max(last_ns, line.at_ns)
                self._seen = last_ns
                self._deliver(line)
        return last_ns
