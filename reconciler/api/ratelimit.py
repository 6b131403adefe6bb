"""Token-bucket rate limits for triggers, per API token (or per peer for webhooks).

Triggers are cheap to ask for and the single-flight queue already coalesces them; the limit is
there so one client cannot flood the audit log, the engine or the add-ons with restarts.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_KEYS = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`burst` requests at once, refilled at `per_minute`; keys are tokens or peers."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self.rate = per_minute / 60.0
        self.burst = burst
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one token for `key`: 0.0 when allowed, else the seconds until one is free."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.pop(key, None) or _Bucket(float(self.burst), now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            self._buckets[key] = bucket  # most recently used last
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)  # forgetting a key only ever grants more
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate


def retry_after(wait: float) -> str:
    """The Retry-After header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait)))


def from_env(name: str, per_minute: float, burst: int) -> RateLimiter:
    """A limiter configured by `NAME=RATE/min` and `NAME_BURST=N`, with these defaults."""
    raw = os.environ.get(name, "").strip().removesuffix("/min")
    raw_burst = os.environ.get(f"{name}_BURST", "").strip()
    try:
        rate = float(raw) if raw else per_minute
        size = int(raw_burst) if raw_burst else burst
        return RateLimiter(rate, size)
    except ValueError:
        return RateLimiter(per_minute, burst)
