"""One engine event stream for the daemon, shared by its listeners (drift, observed cache).

Reconnects after the engine restarts or the connection breaks, resuming from the newest event
seen; listeners hear `connected` and `disconnected` around each connection, so a cache can stop
trusting itself across the gap.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Protocol

from reconciler.observed.port import DockerPort, EngineEvent, EventStream
from reconciler.state.errors import ReconcilerError

log = logging.getLogger("reconciler.observed")
NANOS = 1_000_000_000
RETRY_SECONDS = 2.0


class EventListener(Protocol):
    def connected(self, since_nano: int) -> None: ...

    def event(self, event: EngineEvent) -> None: ...

    def disconnected(self) -> None: ...


def follow(
    port: DockerPort,
    listeners: Sequence[EventListener],
    stop: threading.Event,
    since: float,
    retry: float = RETRY_SECONDS,
) -> None:
    """Block, handing every event to each listener in order, until `stop` is set."""
    cursor = int(since * NANOS)
    while not stop.is_set():
        try:
            stream = port.events(cursor)
        except ReconcilerError as e:
            log.warning("cannot follow engine events (retrying): %s", e)
            stop.wait(retry)
            continue
        cursor = _drain(stream, listeners, stop, cursor)
        if not stop.is_set():
            stop.wait(retry)  # the engine is restarting or unreachable: retry shortly


def _drain(
    stream: EventStream, listeners: Sequence[EventListener], stop: threading.Event, cursor: int
) -> int:
    done = threading.Event()
    closer = threading.Thread(target=_close_on_stop, args=(stop, done, stream), daemon=True)
    closer.start()
    for listener in listeners:
        listener.connected(cursor)
    try:
        for event in stream:
            cursor = max(cursor, event.time_nano)
            for listener in listeners:
                listener.event(event)
            if stop.is_set():
                break
    except ReconcilerError as e:
        log.warning("engine event stream broke (reconnecting): %s", e)
    finally:
        for listener in listeners:
            listener.disconnected()
        done.set()
        stream.close()
    return cursor


def _close_on_stop(stop: threading.Event, done: threading.Event, stream: EventStream) -> None:
    # A blocked read only ends when the stream is closed under it.
    while not done.is_set():
        if stop.wait(0.5):
            stream.close()
            return
