"""The API's in-memory view of the stack, so reads do not cost a Docker call each.

The desired side (manifests of the checked-out revision, resolved) is rebuilt only when a pass
ran since, or something the API did changed it (rotated credentials). The live side is one list
call, refreshed when older than `max_age`: a stale view is served at once while one refresh runs
in the background, and only a view known to be wrong (after a pass, a restart) makes a reader
wait. Passes are noticed through the state database, which every pass writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.api.errors import ApiError
from reconciler.api.resources import build_objects
from reconciler.daemon.controller import LAST_RECONCILE
from reconciler.daemon.service import Daemon
from reconciler.desired.load import load_desired
from reconciler.gitsync.revision import local_revision
from reconciler.manifests.loader import resolve_root
from reconciler.manifests.models import Stack
from reconciler.state.model import DesiredStack, LiveContainer

log = logging.getLogger("reconciler.api")
MAX_AGE_SECONDS = 2.0


@dataclass(frozen=True)
class Desired:
    key: tuple[Any, ...]
    stack: DesiredStack
    manifests: Stack


@dataclass(frozen=True)
class Snapshot:
    desired: DesiredStack
    manifests: Stack
    containers: tuple[LiveContainer, ...]
    observed_at: float  # time.monotonic()
    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    @property
    def stack(self) -> str:
        return self.desired.stack

    def items(self, kind: str) -> list[dict[str, Any]]:
        return list(self.objects.get(kind, {}).values())

    def get(self, kind: str, name: str) -> dict[str, Any]:
        obj = self.objects.get(kind, {}).get(name)
        if obj is None:
            label = "app" if kind == "app" else "add-on"
            raise ApiError(404, f"no {label} named {name!r} in stack {self.stack}")
        return obj

    def live(self, kind: str, name: str) -> list[LiveContainer]:
        return sorted(
            (c for c in self.containers if c.kind == kind and c.owner == name),
            key=lambda c: c.name,
        )


class StackView:
    def __init__(self, daemon: Daemon, max_age: float = MAX_AGE_SECONDS) -> None:
        self._daemon = daemon
        self.max_age = max_age
        self._desired: Desired | None = None
        self._snapshot: Snapshot | None = None
        self._lock = asyncio.Lock()
        self._dirty = False
        self._background: asyncio.Task[None] | None = None

    def invalidate(self, desired: bool = False) -> None:
        """The next read waits for a fresh view (and rebuilt desired state, if asked)."""
        self._dirty = True
        if desired:
            self._desired = None

    async def snapshot(self, max_age: float | None = None) -> Snapshot:
        age_limit = self.max_age if max_age is None else max_age
        current = self._snapshot
        key = self._key()
        if current is not None and not self._dirty and self._desired_key() == key:
            if time.monotonic() - current.observed_at <= age_limit:
                return current
            if max_age is None:  # stale but not wrong: answer now, refresh behind
                self._refresh_behind()
                return current
        async with self._lock:
            if self._snapshot is not current and self._snapshot is not None:
                return self._snapshot  # another reader refreshed it while we waited
            return await self._refresh(key)

    def _refresh_behind(self) -> None:
        if self._background is None or self._background.done():
            self._background = asyncio.create_task(self._quiet_refresh())

    async def _quiet_refresh(self) -> None:
        with contextlib.suppress(Exception):  # a reader that needs it will see the error
            async with self._lock:
                await self._refresh(self._key())

    async def _refresh(self, key: tuple[Any, ...]) -> Snapshot:
        self._dirty = False
        loop = asyncio.get_running_loop()
        try:
            snapshot = await loop.run_in_executor(None, self._load, key)
        except BaseException:
            self._dirty = True
            raise
        self._snapshot = snapshot
        return snapshot

    def _load(self, key: tuple[Any, ...]) -> Snapshot:
        desired = self._desired
        if desired is None or desired.key != key:
            desired = self._load_desired(key)
            self._desired = desired
        containers = tuple(self._daemon.engine.port.list_containers(desired.stack.stack))
        objects = build_objects(desired.stack, desired.manifests, containers)
        return Snapshot(desired.stack, desired.manifests, containers, time.monotonic(), objects)

    def _load_desired(self, key: tuple[Any, ...]) -> Desired:
        path = self._daemon.mirror.manifest_dir
        root, root_file = resolve_root(Path(path))
        if not root_file.exists():
            raise ApiError(503, "no revision is checked out yet; the first reconcile has not run")
        # What Engine.desired does, keeping the loaded manifests for the fields objects show.
        engine = self._daemon.engine
        loaded, stack = load_desired(path, local_revision(root), engine.inputs(root))
        return Desired(key, stack, loaded.stack)

    def _desired_key(self) -> tuple[Any, ...] | None:
        return self._desired.key if self._desired is not None else None

    def _key(self) -> tuple[Any, ...]:
        """Changes whenever a pass ran or was recorded: the desired state may have changed."""
        db = self._daemon.db
        latest = db.query("SELECT id, status FROM deployments ORDER BY id DESC LIMIT 1")
        last = (int(latest[0]["id"]), str(latest[0]["status"])) if latest else None
        return (db.get_meta(LAST_RECONCILE), last)
