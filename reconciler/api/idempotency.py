"""Idempotency-Key for triggers: a repeat within 24 h gets the first answer and starts nothing.

Kept in memory: a restarted daemon forgets keys, which at worst queues one more reconcile (the
queue coalesces it) or restarts containers once more. Entries are keyed by caller, method and
path, so two tokens never see each other's answers.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.api.errors import ApiError

TTL_SECONDS = 24 * 3600
MAX_ENTRIES = 10_000
MAX_KEY_LENGTH = 255
KEY_PATTERN = re.compile(rf"^[\x20-\x7e]{{1,{MAX_KEY_LENGTH}}}$")


@dataclass(frozen=True)
class Stored:
    status: int
    body: bytes
    content_type: str
    fingerprint: str
    at: float


class IdempotencyCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: OrderedDict[str, Stored] = OrderedDict()
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()

    @staticmethod
    def key(principal: str, method: str, path: str, header: str) -> str:
        if not KEY_PATTERN.fullmatch(header):
            raise ApiError(
                400, f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable ASCII characters"
            )
        return "\0".join((principal, method, path, header))

    @staticmethod
    def fingerprint(body: bytes) -> str:
        return hashlib.sha256(body).hexdigest()

    def begin(self, key: str, fingerprint: str) -> Stored | None:
        """The stored answer for `key`, or None after reserving it for this request."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            stored = self._entries.get(key)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise ApiError(
                        422, "this Idempotency-Key was already used with a different request body"
                    )
                return stored
            if key in self._in_flight:
                raise ApiError(409, "a request with this Idempotency-Key is still in progress")
            self._in_flight.add(key)
            return None

    def finish(
        self, key: str, fingerprint: str, status: int, body: bytes, content_type: str
    ) -> None:
        with self._lock:
            self._in_flight.discard(key)
            # Only answers that started something are replayed. A refusal (400, 404, 409, 422,
            # 429) started nothing: the same key may be sent again once the request is fixed.
            if not 200 <= status < 300:
                return
            self._entries[key] = Stored(status, body, content_type, fingerprint, self._clock())
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)

    def abandon(self, key: str) -> None:
        with self._lock:
            self._in_flight.discard(key)

    def _expire(self, now: float) -> None:
        while self._entries:
            oldest = next(iter(self._entries.values()))
            if now - oldest.at < TTL_SECONDS:
                return
            self._entries.popitem(last=False)
