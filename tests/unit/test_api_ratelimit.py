"""Token buckets: bursts, refill, Retry-After, separate keys, bounded memory."""

from __future__ import annotations

import pytest

from reconciler.api.ratelimit import RateLimiter, from_env, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill_at_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=10, burst=5, clock=clock)
    assert [limiter.take("a") for _ in range(5)] == [0.0] * 5
    wait = limiter.take("a")
    assert wait == pytest.approx(6.0)  # 10 a minute: one token every 6 s
    assert retry_after(wait) == "6"
    clock.now += 6.0
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0
    clock.now += 600  # refill never exceeds the burst
    assert [limiter.take("a") for _ in range(6)].count(0.0) == 5


def test_keys_are_independent_and_memory_is_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=1, burst=1, clock=clock, max_keys=3)
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0
    assert limiter.take("b") == 0.0
    for key in ("c", "d", "e"):
        limiter.take(key)
    assert len(limiter._buckets) == 3
    assert limiter.take("a") == 0.0  # forgotten, so allowed again: forgetting only grants


def test_retry_after_is_at_least_one_second() -> None:
    assert retry_after(0.01) == "1"
    assert retry_after(2.2) == "3"


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_RATE", "30/min")
    monkeypatch.setenv("X_RATE_BURST", "2")
    limiter = from_env("X_RATE", 10, 5)
    assert (limiter.rate, limiter.burst) == (0.5, 2)
    monkeypatch.setenv("X_RATE", "lots")
    assert from_env("X_RATE", 10, 5).burst == 5
    with pytest.raises(ValueError):
        RateLimiter(0, 1)
