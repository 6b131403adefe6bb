"""In-process publish/subscribe for the daemon's events (deployments, actions, drift, health).

Publishers may be any thread (a reconcile runs in an executor, drift follows the engine in a
thread); subscribers are asyncio consumers such as the API's server-sent-events stream. Each
subscriber has a bounded queue: a slow reader loses its oldest events instead of growing memory,
and is told how many it lost. A short history lets a reconnecting reader resume by event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

HISTORY = 200
QUEUE_SIZE = 256


@dataclass(frozen=True)
class Event:
    id: int
    type: str  # e.g. deployment.finished, drift.detected, health.changed, restart.finished
    at: str  # ISO 8601, UTC
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "at": self.at, "data": dict(self.data)}


class Subscription:
    """One reader's bounded queue; created and consumed on the reader's event loop."""

    def __init__(self, bus: EventBus, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self._bus = bus
        self._loop = loop
        self._queue: asyncio.Queue[Event] = asyncio.Queue(size)
        self.dropped = 0

    def _put(self, event: Event) -> None:
        # Runs on the reader's loop: drop the oldest event rather than block the publisher.
        if self._queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(event)

    def deliver(self, event: Event) -> bool:
        """Hand `event` over from any thread; False when the reader's loop is gone."""
        try:
            self._loop.call_soon_threadsafe(self._put, event)
        except RuntimeError:  # the loop was closed: this reader is gone
            return False
        return True

    async def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None when `timeout` seconds pass without one."""
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    def __init__(self, history: int = HISTORY) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._history: deque[Event] = deque(maxlen=history)
        self._subscribers: list[Subscription] = []

    def publish(self, type_: str, data: Mapping[str, Any] | None = None) -> Event:
        """Record and fan out one event; safe from any thread, never blocks on readers."""
        with self._lock:
            event = Event(next(self._ids), type_, _now(), dict(data or {}))
            self._history.append(event)
            readers = list(self._subscribers)
        gone = [reader for reader in readers if not reader.deliver(event)]
        for reader in gone:
            self.unsubscribe(reader)
        return event

    def subscribe(self, after: int | None = None, size: int = QUEUE_SIZE) -> Subscription:
        """A new reader on the running loop; with `after`, first replays newer history."""
        subscription = Subscription(self, asyncio.get_running_loop(), size)
        with self._lock:
            backlog = [e for e in self._history if after is not None and e.id > after]
            self._subscribers.append(subscription)
        for event in backlog[-size:]:
            subscription._put(event)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._subscribers.remove(subscription)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def recent(self, limit: int = 50) -> list[Event]:
        with self._lock:
            return list(self._history)[-limit:]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
