"""The observed state of one stack, kept current by the engine's event stream (daemon only).

Like Argo CD's cluster cache: prime once with the usual list calls (observe.py), then follow
events instead of listing again. It answers only while it is provably current:

* it is primed only while the event stream is open, and the stream was subscribed `since` a
  time before the prime's list calls, so every change after them arrives as an event;
* a broken stream (or a reconnect, after which events may be missing) invalidates it, and so
  does `changed()` after a pass that wrote to Docker; the next read primes again;
* before answering, a catch-up call fetches what the engine logged since shortly before the
  newest event the stream delivered (events still in flight, or logged out of time order), so
  nothing that happened before the read is missed: one small GET /events instead of four lists;
* it primes afresh every `max_age` seconds anyway, as a safety net.

Events only mark what is dirty; the reading pass refreshes dirty containers with one list call
filtered by id (a destroyed one is simply dropped) and re-lists networks, volumes or images after
their events. So the event thread never waits on the engine (dockerd drops events for a
subscriber that stops reading), and the cached state changes on the reading thread only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from reconciler.observed.observe import observe
from reconciler.observed.port import DockerPort, EngineEvent
from reconciler.state import labels
from reconciler.state.errors import ReconcilerError
from reconciler.state.model import LiveContainer, LiveNetwork, LiveVolume, Observed

log = logging.getLogger("reconciler.observed")

#: Re-list everything at least this often, whatever the events said.
MAX_AGE_SECONDS = 300.0
#: More dirty containers than this: one full list is cheaper than a long id filter.
MAX_REFRESH = 50
#: The engine stamps an event before it publishes it, so concurrent events can arrive slightly
#: out of time order: a catch-up looks back this far behind the newest event received.
REORDER_NANOS = 1_000_000_000

EventKey = tuple[int, str, str, str]


def _key(event: EngineEvent) -> EventKey:
    return (event.time_nano, event.type, event.action, event.id)


@dataclass
class _Dirty:
    """What events said changed since the last read (filled by the event thread)."""

    containers: set[str] = field(default_factory=set)
    destroyed: set[str] = field(default_factory=set)
    networks: bool = False
    volumes: bool = False
    images: bool = False

    def mark(self, event: EngineEvent, stack: str) -> None:
        if event.type == "container":
            if event.attributes.get(labels.STACK) != stack:
                return  # another stack's container: nothing we list
            if event.action == "destroy":
                self.destroyed.add(event.id)
            self.containers.add(event.id)
        elif event.type == "network":
            self.networks = True
        elif event.type == "volume":
            self.volumes = True
        elif event.type == "image":
            self.images = True


class ObservedCache:
    """Observed state for `stack`; an EventListener for follow.py, a reader for the engine."""

    def __init__(
        self,
        port: DockerPort,
        stack: str,
        *,
        max_age: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        wall_clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.stack = stack
        self._port = port
        self._max_age = max_age
        self._clock = clock
        self._now_ns = wall_clock_ns
        self._read_lock = threading.Lock()  # one reader at a time
        # Shared with the event thread, under _lock:
        self._lock = threading.Lock()
        self._connected = False
        self._generation = 0
        self._valid = False
        self._cursor = 0  # time of the newest event received on this connection
        self._recent: dict[EventKey, None] = {}  # received within REORDER_NANOS of the cursor
        self._dirty = _Dirty()
        #: Events a catch-up applied already (within REORDER_NANOS of the last one): when the
        #: stream delivers them later, there is nothing left to do.
        self._caught: set[EventKey] = set()
        # The reader's own:
        self._primed_at = 0.0
        #: Wall time up to which every event is reflected (by a prime or a catch-up).
        self._floor = 0
        self._containers: dict[str, LiveContainer] = {}
        self._networks: tuple[LiveNetwork, ...] = ()
        self._volumes: tuple[LiveVolume, ...] = ()
        self._images: tuple[tuple[str, str], ...] = ()
        #: How the last read was answered: "cache", or "primed (reason)"; and counts of each.
        self.last_source = ""
        self.primes = 0
        self.hits = 0

    # --- the event stream's side (follow.py calls these on its thread) ---

    def connected(self, since_nano: int) -> None:
        with self._lock:
            # Events before this connection may be missing: only a new prime is trusted.
            self._generation += 1
            self._connected, self._valid = True, False
            self._cursor, self._recent = since_nano, {}

    def event(self, event: EngineEvent) -> None:
        key = _key(event)
        with self._lock:
            if key not in self._caught:
                self._dirty.mark(event, self.stack)
            self._cursor = max(self._cursor, event.time_nano)
            self._recent[key] = None
            if len(self._recent) > 64:
                floor = self._cursor - REORDER_NANOS
                self._recent = {k: None for k in self._recent if k[0] >= floor}

    def disconnected(self) -> None:
        with self._lock:
            self._connected, self._valid = False, False

    # --- the reader's side ---

    @property
    def following(self) -> bool:
        """The event stream is connected (a read may then be answered from the cache)."""
        with self._lock:
            return self._connected

    def changed(self) -> None:
        """This process wrote to Docker: prime again rather than trust the echo of its writes."""
        with self._lock:
            self._valid = False

    def observe(self, stack: str) -> Observed:
        if stack != self.stack:  # the manifests renamed the stack: not what we follow
            return observe(self._port, stack)
        with self._read_lock:
            with self._lock:
                generation, cursor = self._generation, self._cursor
                recent = set(self._recent)
                reason = self._stale_reason()
            if reason:
                return self._prime(reason)
            try:
                self._catch_up(cursor, recent)
            except ReconcilerError as e:
                return self._prime(f"catch-up failed: {e}")
            with self._lock:
                if not self._valid or self._generation != generation:
                    reason = "the event stream reconnected"
                dirty, self._dirty = self._dirty, _Dirty()
            if reason or len(dirty.containers - dirty.destroyed) > MAX_REFRESH:
                return self._prime(reason or "many containers changed")
            self._refresh(dirty)
            self.hits += 1
            self.last_source = "cache"
            return self._snapshot()

    def _stale_reason(self) -> str:
        if not self._connected:
            return "no event stream"
        if not self._valid:
            return "not primed since the stream connected or since a change"
        if self._clock() - self._primed_at >= self._max_age:
            return f"older than {self._max_age:.0f}s"
        return ""

    def _catch_up(self, cursor: int, received: set[EventKey]) -> None:
        """Mark what the engine logged before now but the stream has not delivered yet.

        Older events are either delivered (the stream is continuous) or reflected already (by
        the prime or an earlier catch-up), so the query looks back only from the later of the
        newest event received and the last read, by REORDER_NANOS.
        """
        until = self._now_ns()
        since = max(cursor, self._floor) - REORDER_NANOS
        with self._lock:
            seen = received | self._caught
        late = [e for e in self._port.events(since, until) if _key(e) not in seen]
        keep = until - REORDER_NANOS
        with self._lock:
            for event in late:
                self._dirty.mark(event, self.stack)
            self._caught = {k for k in self._caught if k[0] >= keep} | {_key(e) for e in late}
        self._floor = until

    def _prime(self, reason: str) -> Observed:
        with self._lock:
            generation, connected = self._generation, self._connected
            self._dirty = _Dirty()  # the lists below see everything these events said
        self._floor = self._now_ns()
        observed = observe(self._port, self.stack)
        self._store(observed.containers, observed.networks, observed.volumes, observed.images)
        with self._lock:
            self._valid = connected and self._connected and self._generation == generation
            self._primed_at = self._clock()
        self.primes += 1
        self.last_source = f"primed ({reason})"
        log.info("observed state of stack %s primed: %s", self.stack, reason)
        return observed

    def _store(
        self,
        containers: Iterable[LiveContainer],
        networks: tuple[LiveNetwork, ...],
        volumes: tuple[LiveVolume, ...],
        images: tuple[tuple[str, str], ...],
    ) -> None:
        self._containers = {container.id: container for container in containers}
        self._networks, self._volumes, self._images = networks, volumes, images

    def _refresh(self, dirty: _Dirty) -> None:
        for gone in dirty.destroyed:
            self._containers.pop(gone, None)
        changed = sorted(dirty.containers - dirty.destroyed)
        if changed:
            found = {c.id: c for c in self._port.list_containers_by_id(self.stack, changed)}
            for container_id in changed:
                self._containers.pop(container_id, None)
            self._containers.update(found)
        if dirty.networks:
            self._networks = tuple(self._port.list_networks(self.stack))
        if dirty.volumes:
            self._volumes = tuple(self._port.list_volumes(self.stack))
        if dirty.images:
            self._images = tuple(sorted(self._port.image_ids().items()))

    def _snapshot(self) -> Observed:
        return Observed(
            containers=tuple(self._containers.values()),
            networks=self._networks,
            volumes=self._volumes,
            images=self._images,
        )
