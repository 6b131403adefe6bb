"""The engine's multiplexed exec streams: split stdout/stderr into sinks in bounded memory.

Pure socket handling with no docker import, so it is testable on its own.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable

#: Bytes of command output kept for error messages.
TAIL_BYTES = 4096
RECV_BYTES = 1 << 20


class StreamBroken(Exception):
    """Reading the engine's stream failed (as opposed to handing a chunk on)."""


class Tail:
    """The last TAIL_BYTES of a stream, thread-safe; for error messages, never for data."""

    def __init__(self) -> None:
        self._data = b""
        self._lock = threading.Lock()

    def add(self, chunk: bytes) -> None:
        with self._lock:
            self._data = (self._data + chunk)[-TAIL_BYTES:]

    def text(self) -> str:
        with self._lock:
            return self._data.decode("utf-8", "replace").strip()


def drain(sock: socket.socket, sinks: dict[int, Callable[[bytes], None]]) -> None:
    # A broken stream shows up as the command's exit code; nothing to raise on this thread.
    with contextlib.suppress(StreamBroken):
        demux(sock, sinks)


def demux(sock: socket.socket, sinks: dict[int, Callable[[bytes], None]]) -> None:
    """Split the engine's multiplexed stream (8-byte headers: stream, size) into `sinks`.

    Reads in large blocks and passes payload slices on without waiting for whole frames,
    so memory stays bounded by RECV_BYTES whatever the frame sizes."""
    header = b""
    stream, remaining = 0, 0
    while True:
        try:
            data = sock.recv(RECV_BYTES)
        except OSError as e:  # the engine's side; a sink's own errors pass through unchanged
            raise StreamBroken() from e
        if not data:
            return
        view, pos = memoryview(data), 0
        while pos < len(view):
            if remaining == 0:
                need = 8 - len(header)
                header += view[pos : pos + need].tobytes()
                pos += need
                if len(header) == 8:
                    stream, remaining = struct.unpack(">BxxxL", header)
                    header = b""
                continue
            take = min(remaining, len(view) - pos)
            sink = sinks.get(stream)
            if sink is not None:
                sink(data if take == len(data) else view[pos : pos + take].tobytes())
            pos += take
            remaining -= take
