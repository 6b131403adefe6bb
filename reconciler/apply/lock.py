"""A host-wide lock per stack, so a CLI apply and a daemon never change one stack at once."""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from reconciler.state.errors import ReconcilerError

WAIT_SECONDS = 600.0


def _lock_dir() -> Path:
    for candidate in (os.environ.get("RECONCILER_LOCK_DIR"), "/run/lock", tempfile.gettempdir()):
        if candidate and os.access(candidate, os.W_OK):
            return Path(candidate)
    return Path(tempfile.gettempdir())


@contextmanager
def stack_lock(
    stack: str, report: Callable[[str], None], wait: float = WAIT_SECONDS
) -> Iterator[None]:
    """Hold the stack's lock; wait (saying so) while another process holds it."""
    path = _lock_dir() / f"reconciler-{stack}.lock"
    with open(path, "a+") as handle:
        deadline = time.monotonic() + wait
        announced = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as e:
                if not announced:
                    report(f"waiting for another reconciler that is changing stack {stack}")
                    announced = True
                if time.monotonic() > deadline:
                    raise ReconcilerError(
                        f"stack {stack} stayed locked by another reconciler for {wait:.0f}s"
                    ) from e
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
