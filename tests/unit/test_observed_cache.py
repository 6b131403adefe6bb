"""The observed-state cache against a fake engine at our own DockerPort level.

The fake keeps containers, networks, volumes and images plus the engine's event log; a test
changes the fake "engine" and hands the cache the events a stream would deliver (or withholds
them, as if still in flight), then checks what a read returns and which calls it made.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pytest

from reconciler.observed.cache import MAX_REFRESH, ObservedCache
from reconciler.observed.observe import observe
from reconciler.observed.port import DockerPort, EngineEvent
from reconciler.state import labels
from reconciler.state.errors import DockerUnavailable
from reconciler.state.model import LiveContainer, LiveNetwork, LiveVolume

STACK = "shop"
T0 = 1_700_000_000 * 1_000_000_000  # engine time, ns


def live(cid: str, name: str, state: str = "running") -> LiveContainer:
    return LiveContainer(
        id=cid, name=name, kind="app", owner=name, replica=1, state=state, status="Up",
        image="busybox:1", image_id="sha256:1", spec_hash="h", revision="r", spec_doc="{}",
    )  # fmt: skip


class Events:
    def __init__(self, events: list[EngineEvent]) -> None:
        self._events = events

    def __iter__(self) -> Iterator[EngineEvent]:
        return iter(self._events)

    def close(self) -> None:
        pass


@dataclass
class FakeEngine:
    """The engine as DockerPort shows it, with an event log; counts every call."""

    containers: dict[str, LiveContainer] = field(default_factory=dict)
    networks: list[LiveNetwork] = field(default_factory=list)
    volumes: list[LiveVolume] = field(default_factory=list)
    images: dict[str, str] = field(default_factory=dict)
    log: list[EngineEvent] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    now: int = T0
    fail_events: bool = False

    def emit(self, type_: str, action: str, oid: str, stack: str = STACK) -> EngineEvent:
        self.now += 1_000_000
        attributes = {labels.STACK: stack, "name": oid} if type_ == "container" else {}
        event = EngineEvent(type_, action, oid, attributes, self.now)
        self.log.append(event)
        return event

    def list_containers(self, stack: str) -> list[LiveContainer]:
        self.calls["list_containers"] += 1
        return list(self.containers.values())

    def list_containers_by_id(self, stack: str, ids: Sequence[str]) -> list[LiveContainer]:
        self.calls["list_containers_by_id"] += 1
        return [c for cid, c in self.containers.items() if cid in ids]

    def list_networks(self, stack: str) -> list[LiveNetwork]:
        self.calls["list_networks"] += 1
        return list(self.networks)

    def list_volumes(self, stack: str) -> list[LiveVolume]:
        self.calls["list_volumes"] += 1
        return list(self.volumes)

    def image_ids(self) -> dict[str, str]:
        self.calls["image_ids"] += 1
        return dict(self.images)

    def events(self, since_nano: int, until_nano: int | None = None) -> Events:
        self.calls["events"] += 1
        if self.fail_events:
            raise DockerUnavailable("engine gone")
        until = until_nano if until_nano is not None else self.now
        return Events([e for e in self.log if since_nano <= e.time_nano <= until])


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine(
        containers={"c1": live("c1", "shop-web-1"), "c2": live("c2", "shop-api-1")},
        networks=[LiveNetwork("n1", "shop")],
        volumes=[LiveVolume("shop-data")],
        images={"busybox:1": "sha256:1"},
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def warm(engine: FakeEngine, clock: Clock | None = None) -> ObservedCache:
    """A cache whose stream is connected and which has primed once; calls reset."""
    port: DockerPort = engine  # type: ignore[assignment]
    cache = ObservedCache(port, STACK, clock=clock or Clock(), wall_clock_ns=lambda: engine.now)
    cache.connected(engine.now)
    cache.observe(STACK)
    assert cache.last_source.startswith("primed")
    engine.calls.clear()
    return cache


def deliver(cache: ObservedCache, *events: EngineEvent) -> None:
    for event in events:
        cache.event(event)


def test_without_a_stream_every_read_lists_everything(engine: FakeEngine) -> None:
    cache = ObservedCache(engine, STACK, wall_clock_ns=lambda: engine.now)  # type: ignore[arg-type]
    for _ in range(2):
        assert cache.observe(STACK) == observe(engine, STACK)  # type: ignore[arg-type]
    assert cache.primes == 2 and cache.hits == 0
    assert "no event stream" in cache.last_source


def test_warm_cache_answers_with_one_catch_up_call_and_no_lists(engine: FakeEngine) -> None:
    cache = warm(engine)
    observed = cache.observe(STACK)
    assert cache.last_source == "cache"
    assert dict(engine.calls) == {"events": 1}
    assert sorted(c.name for c in observed.containers) == ["shop-api-1", "shop-web-1"]
    assert observed.networks == (LiveNetwork("n1", "shop"),)
    assert observed.volumes == (LiveVolume("shop-data"),)
    assert observed.image_id("busybox:1") == "sha256:1"


def test_a_stopped_container_is_refreshed_alone(engine: FakeEngine) -> None:
    cache = warm(engine)
    engine.containers["c1"] = live("c1", "shop-web-1", state="exited")
    deliver(cache, engine.emit("container", "die", "c1"), engine.emit("container", "stop", "c1"))
    observed = cache.observe(STACK)
    assert {c.name: c.state for c in observed.containers} == {
        "shop-web-1": "exited",
        "shop-api-1": "running",
    }
    assert engine.calls == Counter({"events": 1, "list_containers_by_id": 1})
    cache.observe(STACK)  # nothing new: no list call again
    assert engine.calls["list_containers_by_id"] == 1


def test_a_removed_container_is_dropped_without_a_call(engine: FakeEngine) -> None:
    cache = warm(engine)
    del engine.containers["c1"]
    deliver(
        cache, engine.emit("container", "kill", "c1"), engine.emit("container", "destroy", "c1")
    )
    observed = cache.observe(STACK)
    assert [c.name for c in observed.containers] == ["shop-api-1"]
    assert engine.calls == Counter({"events": 1})


def test_created_and_renamed_containers_appear(engine: FakeEngine) -> None:
    cache = warm(engine)
    engine.containers["c3"] = live("c3", "shop-web-1-next")
    deliver(cache, engine.emit("container", "create", "c3"))
    assert "shop-web-1-next" in {c.name for c in cache.observe(STACK).containers}
    engine.containers["c3"] = live("c3", "shop-web-2")
    deliver(cache, engine.emit("container", "rename", "c3"))
    names = sorted(c.name for c in cache.observe(STACK).containers)
    assert names == ["shop-api-1", "shop-web-1", "shop-web-2"]


def test_other_stacks_events_cost_nothing(engine: FakeEngine) -> None:
    cache = warm(engine)
    deliver(cache, engine.emit("container", "die", "x1", stack="other"))
    cache.observe(STACK)
    assert engine.calls == Counter({"events": 1})


@pytest.mark.parametrize(
    ("type_", "call"),
    [("network", "list_networks"), ("volume", "list_volumes"), ("image", "image_ids")],
)
def test_network_volume_and_image_events_relist_that_kind(
    engine: FakeEngine, type_: str, call: str
) -> None:
    cache = warm(engine)
    engine.networks.append(LiveNetwork("n2", "shop-extra"))
    engine.volumes.append(LiveVolume("shop-more"))
    engine.images["busybox:1"] = "sha256:2"
    deliver(cache, engine.emit(type_, "create" if type_ != "image" else "tag", "x"))
    observed = cache.observe(STACK)
    assert engine.calls == Counter({"events": 1, call: 1})
    assert (len(observed.networks) == 2) == (type_ == "network")
    assert (len(observed.volumes) == 2) == (type_ == "volume")
    assert (observed.image_id("busybox:1") == "sha256:2") == (type_ == "image")


def test_an_event_still_in_flight_is_caught_up_before_answering(engine: FakeEngine) -> None:
    cache = warm(engine)
    engine.containers["c2"] = live("c2", "shop-api-1", state="exited")
    engine.emit("container", "die", "c2")  # logged by the engine, not yet delivered
    observed = cache.observe(STACK)
    assert {c.name: c.state for c in observed.containers}["shop-api-1"] == "exited"
    assert engine.calls == Counter({"events": 1, "list_containers_by_id": 1})
    # Delivered later: already applied, so it costs nothing more.
    deliver(cache, engine.log[-1])
    cache.observe(STACK)
    assert engine.calls == Counter({"events": 2, "list_containers_by_id": 1})


def test_events_already_delivered_are_not_applied_twice(engine: FakeEngine) -> None:
    cache = warm(engine)
    engine.containers["c1"] = live("c1", "shop-web-1", state="exited")
    deliver(cache, engine.emit("container", "die", "c1"))
    cache.observe(STACK)
    cache.observe(STACK)  # the catch-up sees the die again: already delivered and applied
    assert engine.calls["list_containers_by_id"] == 1


def test_a_broken_stream_invalidates_until_primed_again(engine: FakeEngine) -> None:
    cache = warm(engine)
    cache.disconnected()
    engine.containers["c9"] = live("c9", "shop-new-1")  # its event was lost with the stream
    observed = cache.observe(STACK)
    assert "shop-new-1" in {c.name for c in observed.containers}
    assert cache.last_source == "primed (no event stream)"
    cache.connected(engine.now)  # reconnected: events during the gap may be missing
    cache.observe(STACK)
    assert cache.last_source.startswith("primed (not primed since the stream connected")
    cache.observe(STACK)
    assert cache.last_source == "cache"


def test_a_stream_breaking_during_the_prime_keeps_it_invalid(engine: FakeEngine) -> None:
    cache = ObservedCache(engine, STACK, wall_clock_ns=lambda: engine.now)  # type: ignore[arg-type]
    cache.connected(engine.now)
    original = engine.list_volumes

    def list_volumes_then_break(stack: str) -> list[LiveVolume]:
        cache.disconnected()
        cache.connected(engine.now)
        return original(stack)

    engine.list_volumes = list_volumes_then_break  # type: ignore[method-assign]
    cache.observe(STACK)
    engine.list_volumes = original  # type: ignore[method-assign]
    cache.observe(STACK)
    assert cache.last_source.startswith("primed")


def test_events_during_the_prime_are_applied_on_the_next_read(engine: FakeEngine) -> None:
    cache = ObservedCache(engine, STACK, wall_clock_ns=lambda: engine.now)  # type: ignore[arg-type]
    cache.connected(engine.now)
    original = engine.list_networks

    def list_networks_while_c1_stops(stack: str) -> list[LiveNetwork]:
        # The containers were listed already; c1 stops now and its event arrives mid-prime.
        engine.containers["c1"] = live("c1", "shop-web-1", state="exited")
        deliver(cache, engine.emit("container", "die", "c1"))
        return original(stack)

    engine.list_networks = list_networks_while_c1_stops  # type: ignore[method-assign]
    first = cache.observe(STACK)
    engine.list_networks = original  # type: ignore[method-assign]
    assert {c.name: c.state for c in first.containers}["shop-web-1"] == "running"
    second = cache.observe(STACK)
    assert cache.last_source == "cache"
    assert {c.name: c.state for c in second.containers}["shop-web-1"] == "exited"


def test_after_our_own_changes_the_next_read_primes(engine: FakeEngine) -> None:
    cache = warm(engine)
    cache.changed()
    cache.observe(STACK)
    assert cache.last_source.startswith("primed (not primed")
    assert engine.calls["list_containers"] == 1


def test_primes_again_after_max_age(engine: FakeEngine) -> None:
    clock = Clock()
    cache = warm(engine, clock)
    clock.now = 299.0
    cache.observe(STACK)
    assert cache.last_source == "cache"
    clock.now = 301.0
    cache.observe(STACK)
    assert cache.last_source == "primed (older than 300s)"


def test_many_changed_containers_prime_instead(engine: FakeEngine) -> None:
    cache = warm(engine)
    for i in range(MAX_REFRESH + 1):
        engine.containers[f"n{i}"] = live(f"n{i}", f"shop-n{i}-1")
        deliver(cache, engine.emit("container", "create", f"n{i}"))
    observed = cache.observe(STACK)
    assert cache.last_source == "primed (many containers changed)"
    assert len(observed.containers) == MAX_REFRESH + 3
    assert engine.calls["list_containers_by_id"] == 0


def test_a_failed_catch_up_primes(engine: FakeEngine) -> None:
    cache = warm(engine)
    engine.fail_events = True
    cache.observe(STACK)
    assert cache.last_source.startswith("primed (catch-up failed")


def test_another_stack_is_observed_directly(engine: FakeEngine) -> None:
    cache = warm(engine)
    cache.observe("renamed")
    assert engine.calls["list_containers"] == 1 and cache.primes == 1


def test_reads_and_events_from_two_threads(engine: FakeEngine) -> None:
    """A smoke test of the locking: events keep arriving while reads happen."""
    cache = warm(engine)
    stop = threading.Event()

    def stream() -> None:
        while not stop.is_set():
            deliver(cache, engine.emit("container", "health_status", "c1"))

    thread = threading.Thread(target=stream)
    thread.start()
    try:
        for _ in range(50):
            assert len(cache.observe(STACK).containers) == 2
    finally:
        stop.set()
        thread.join()
