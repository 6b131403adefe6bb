"""Named crash points: where tests kill the real process with SIGKILL to prove recovery.

`RECONCILER_CRASH_AT=NAME` (or `NAME:N` for the N-th time the point is reached) makes the
process SIGKILL itself there. Nothing is faked: the process dies exactly as `kill -9` would
leave it, at a moment too short to hit reliably from outside (between a rename and a database
commit, say). Unset, a crash point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import threading

ENV = "RECONCILER_CRASH_AT"

_hits: dict[str, int] = {}
_lock = threading.Lock()


def crash_point(name: str) -> None:
    """SIGKILL this process if the environment names this point (and this is the N-th hit)."""
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    with _lock:
        _hits[name] = _hits.get(name, 0) + 1
        count = _hits[name]
    if count >= int(nth or "1"):
        os.kill(os.getpid(), signal.SIGKILL)
