"""Per-object backoff for failing workloads: 5 s, doubling, capped at 5 minutes.

A workload that keeps failing (a bad image, a crashing new version) is held back between
attempts instead of being recreated on every drift event or poll; a new revision retries it
at once, since the new spec may be the fix.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

FIRST_DELAY = 5.0
MAX_DELAY = 300.0


@dataclass
class _Entry:
    failures: int
    retry_at: float
    reason: str


class Backoff:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._revision = ""

    def held(self, revision: str) -> dict[str, str]:
        """Workloads to leave alone in this pass, with why."""
        if self._revision and revision != self._revision:
            self._entries.clear()
        self._revision = revision
        now = self._clock()
        return {
            name: f"backing off after {entry.failures} failure(s), retry in "
            f"{entry.retry_at - now:.0f}s: {entry.reason}"
            for name, entry in self._entries.items()
            if entry.retry_at > now
        }

    def record(self, failures: dict[str, str], held: dict[str, str], attempted: set[str]) -> None:
        """Update after a pass: failures grow their delay, successes clear it."""
        now = self._clock()
        for name in attempted - set(failures):
            self._entries.pop(name, None)
        for name, reason in failures.items():
            if name in held:
                continue  # not attempted this time: its clock keeps running
            previous = self._entries.get(name)
            count = previous.failures + 1 if previous else 1
            delay = min(FIRST_DELAY * 2 ** (count - 1), MAX_DELAY)
            self._entries[name] = _Entry(count, now + delay, reason)
