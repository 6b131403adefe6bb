"""The daemon's one event stream: parsing, reconnecting, fanning out, drift filtering."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from reconciler.observed.events import ContainerEvent, DriftListener
from reconciler.observed.follow import follow
from reconciler.observed.normalize import event_from_message
from reconciler.observed.port import EngineEvent
from reconciler.state import labels
from reconciler.state.errors import DockerUnavailable

T0 = 1_700_000_000 * 1_000_000_000


def container_event(
    action: str, stack: str = "shop", nano: int = T0, extra: dict[str, str] | None = None
) -> EngineEvent:
    attributes = {labels.STACK: stack, labels.NAME: "web", labels.KIND: "app", "name": "shop-web-1"}
    return EngineEvent("container", action, "c1", {**attributes, **(extra or {})}, nano)


class Stream:
    """Yields its events, then breaks (like a dropped connection) or waits to be closed."""

    def __init__(self, events: list[EngineEvent], breaks: bool) -> None:
        self._events = events
        self._breaks = breaks
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[EngineEvent]:
        yield from self._events
        if self._breaks:
            raise DockerUnavailable("the engine's event stream broke")
        self.closed.wait(10)

    def close(self) -> None:
        self.closed.set()


class Port:
    def __init__(self, streams: list[Stream]) -> None:
        self.streams = streams
        self.since: list[int] = []

    def events(self, since_nano: int, until_nano: int | None = None) -> Stream:
        self.since.append(since_nano)
        if not self.streams:
            raise DockerUnavailable("engine gone")
        return self.streams.pop(0)


class Recorder:
    def __init__(self, stop: threading.Event, after: int) -> None:
        self.calls: list[str] = []
        self._stop, self._after = stop, after

    def connected(self, since_nano: int) -> None:
        self.calls.append(f"connected {since_nano - T0}")

    def event(self, event: EngineEvent) -> None:
        self.calls.append(f"{event.action} {event.time_nano - T0}")
        if len([c for c in self.calls if not c.startswith(("connected", "disconnected"))]) == (
            self._after
        ):
            self._stop.set()

    def disconnected(self) -> None:
        self.calls.append("disconnected")


def test_follow_reconnects_from_the_newest_event_and_tells_listeners() -> None:
    stop = threading.Event()
    first = Stream(
        [container_event("die", nano=T0 + 5), container_event("start", nano=T0 + 7)], True
    )
    second = Stream([container_event("stop", nano=T0 + 9)], False)
    port = Port([first, second])
    recorder = Recorder(stop, after=3)
    follow(port, [recorder], stop, since=T0 / 1e9, retry=0.01)  # type: ignore[arg-type]
    assert recorder.calls == [
        "connected 0", "die 5", "start 7", "disconnected",
        "connected 7", "stop 9", "disconnected",
    ]  # fmt: skip
    assert [since - T0 for since in port.since] == [0, 7]


def test_follow_returns_when_stopped_while_waiting_for_events() -> None:
    stop = threading.Event()
    stream = Stream([], False)
    recorder = Recorder(stop, after=99)
    thread = threading.Thread(
        target=follow, args=(Port([stream]), [recorder], stop, T0 / 1e9), daemon=True
    )
    thread.start()
    threading.Timer(0.2, stop.set).start()
    thread.join(5)
    assert not thread.is_alive()
    assert stream.closed.is_set()
    assert recorder.calls == ["connected 0", "disconnected"]


def test_drift_listener_reports_only_drift_of_its_own_stack() -> None:
    seen: list[ContainerEvent] = []
    drift = DriftListener("shop", seen.append)
    drift.event(container_event("die"))
    drift.event(container_event("start"))  # not drift
    drift.event(container_event("die", stack="other"))
    drift.event(
        container_event("destroy", extra={labels.REPLACES: "shop-web-1"})
    )  # our replacement
    drift.event(EngineEvent("network", "destroy", "n1", {}, T0))
    assert seen == [ContainerEvent(action="die", container="shop-web-1", owner="web", kind="app")]


def test_engine_messages_become_events_without_the_health_detail() -> None:
    attributes = {"name": "shop-web-1", labels.STACK: "shop"}
    message = {
        "status": "health_status: healthy", "id": "abc", "from": "busybox:1",
        "Type": "container", "Action": "health_status: healthy",
        "Actor": {"ID": "abc", "Attributes": attributes},
        "scope": "local", "time": 1_700_000_000, "timeNano": 1_700_000_000_123_456_789,
    }  # fmt: skip
    assert event_from_message(message) == EngineEvent(
        "container", "health_status", "abc", attributes, 1_700_000_000_123_456_789
    )
    older = {"Type": "network", "Action": "create", "Actor": {"ID": "n1"}, "time": 1_700_000_001}
    assert event_from_message(older) == EngineEvent(
        "network", "create", "n1", {}, 1_700_000_001_000_000_000
    )
