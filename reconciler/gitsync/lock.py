"""Exclusive use of the mirror directory, and recovery from git lock files left by a crash.

A daemon killed mid-fetch (kill -9, OOM, power loss) leaves files such as .git/index.lock
behind, and git refuses every later command until they are gone. Holding an flock on the
mirror directory proves no other reconciler process is running git there, so any lock file
found while holding it is stale and safe to remove.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reconciler.state.errors import GitSyncError


@contextmanager
def exclusive(workdir: Path) -> Iterator[None]:
    """Holds an exclusive lock on `workdir` (created if missing) for the duration."""
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        fd = os.open(workdir, os.O_RDONLY)
    except OSError as e:
        raise GitSyncError(f"cannot use {workdir} for the git mirror: {e.strerror}") from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise GitSyncError(f"{workdir} is in use by another reconciler process") from e
        yield
    finally:
        # Closing the descriptor releases the flock as well.
        os.close(fd)


def remove_stale_git_locks(git_dir: Path) -> list[Path]:
    """Deletes the lock files a killed git left in `git_dir`; call only under `exclusive`."""
    removed: list[Path] = []
    candidates = [*git_dir.glob("*.lock"), *(git_dir / "refs").rglob("*.lock")]
    for lock in candidates:
        try:
            lock.unlink()
        except FileNotFoundError:
            continue
        removed.append(lock)
    return removed
