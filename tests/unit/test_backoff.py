"""Per-object backoff of failing workloads (pure: a fake clock, no Docker)."""

from __future__ import annotations

from reconciler.daemon.backoff import MAX_DELAY, Backoff


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_delay_starts_at_5s_doubles_and_caps_at_5min() -> None:
    clock = Clock()
    backoff = Backoff(clock)
    delays = []
    for _ in range(10):
        held = backoff.held("rev")
        assert "web" not in held
        backoff.record({"web": "unhealthy"}, held, {"web"})
        held = backoff.held("rev")
        assert "web" in held and "unhealthy" in held["web"]
        start = clock.now
        while "web" in backoff.held("rev"):
            clock.now += 1
        delays.append(clock.now - start)
    assert delays[:4] == [5, 10, 20, 40]
    assert max(delays) == MAX_DELAY


def test_success_clears_and_a_new_revision_retries_at_once() -> None:
    clock = Clock()
    backoff = Backoff(clock)
    backoff.record({"web": "bad image"}, {}, {"web", "api"})
    assert "web" in backoff.held("rev")
    assert backoff.held("rev2") == {}, "a new revision may carry the fix: try it now"
    backoff.record({"web": "bad image"}, {}, {"web"})
    clock.now += 6
    backoff.record({}, {}, {"web"})
    assert backoff.held("rev2") == {}


def test_held_workloads_keep_their_clock() -> None:
    clock = Clock()
    backoff = Backoff(clock)
    backoff.record({"web": "x"}, {}, {"web"})
    held = backoff.held("rev")
    backoff.record({"web": "held"}, held, {"web"})
    clock.now += 5
    assert backoff.held("rev") == {}, "being held is not a new failure"
