"""The daemon's moving parts: the trigger queue, the poll loop and drift following."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from reconciler.backups.upgrade import DumpRestoreUpgrader
from reconciler.daemon.controller import Controller, PassResult
from reconciler.daemon.events import EventBus
from reconciler.daemon.queue import TriggerQueue
from reconciler.engine import Engine, EngineSettings
from reconciler.gitsync.repo import GitMirror, GitSource
from reconciler.observed.cache import ObservedCache
from reconciler.observed.docker_adapter import DockerSdkPort
from reconciler.observed.events import ContainerEvent, DriftListener
from reconciler.observed.follow import follow
from reconciler.scheduler.dispatch import JobRunner
from reconciler.scheduler.runtime import JobScheduler
from reconciler.state.errors import ReconcilerError
from reconciler.store.audit import AuditLog
from reconciler.store.db import Database
from reconciler.store.tokens import TokenStore

log = logging.getLogger("reconciler.daemon")
DRIFT_DEBOUNCE_SECONDS = 2.0


@dataclass(frozen=True)
class DaemonSettings:
    repo: str
    branch: str = "main"
    path: str = ""
    state_dir: Path = Path(".reconciler")
    listen: str = "127.0.0.1:8080"
    interval: float = 60.0
    age_identity: Path | None = None
    secrets_dir: Path | None = None


class AlreadyRunning(ReconcilerError):
    """Another reconciler holds this state directory."""


def lock_state_dir(state_dir: Path) -> IO[str]:
    """Hold an exclusive lock for the process's lifetime; a second daemon exits instead."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle = open(state_dir / "lock", "a+")  # noqa: SIM115 - held open on purpose
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as e:
        handle.close()
        raise AlreadyRunning(f"another reconciler is running on {state_dir}") from e
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


class Daemon:
    def __init__(self, settings: DaemonSettings) -> None:
        self.settings = settings
        self.branch = settings.branch
        self.db = Database(settings.state_dir / "state.db")
        self.audit_log = AuditLog(self.db)
        self.tokens = TokenStore(self.db)
        engine_settings = EngineSettings(
            state_dir=settings.state_dir,
            age_identity=settings.age_identity,
            secrets_dir=settings.secrets_dir,
        )
        self.engine = Engine(DockerSdkPort(), _log_progress, engine_settings)
        source = GitSource(url=settings.repo, branch=settings.branch, subpath=settings.path)
        self.mirror = GitMirror(source, settings.state_dir / "repo")
        self.controller = Controller(self.engine, self.mirror, self.db)
        self.queue = TriggerQueue(self._run_pass)
        self.events = EventBus()
        self.job_runner = JobRunner(self.engine, self.db, lambda: self.mirror.manifest_dir)
        # Passes run add-on upgrades (upgrade: dumpRestore) with the daemon's own backups.
        self.engine.upgrader = DumpRestoreUpgrader(self.job_runner.backups)
        self.jobs = JobScheduler(self.job_runner.run, last_run=self.job_runner.last_run)
        self.scheduler = _SchedulerView(self.jobs)
        self.started_at = time.time()
        self._stop = threading.Event()

    async def _run_pass(self, trigger: str) -> PassResult:
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(None, self.controller.run_pass, trigger)
        # Jobs follow the manifests of the last accepted revision, which the mirror now holds.
        try:
            specs = await loop.run_in_executor(None, self.job_runner.specs)
        except ReconcilerError as e:
            log.warning("scheduled jobs not updated: %s", e)
        else:
            self.jobs.sync(specs)
        return result

    def audit(self, action: str, detail: str, source: str, actor: str = "") -> None:
        self.audit_log.record(action, detail, source, actor)

    async def poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.interval)
            self.queue.submit("poll")

    async def drift_loop(self) -> None:
        """Follow engine events in a thread; debounce bursts into one drift pass."""
        loop = asyncio.get_running_loop()
        pending = asyncio.Event()

        def on_event(event: ContainerEvent) -> None:
            # Our own stops and removals echo back too; the pass they cause finds nothing to
            # do and leaves no record, which is cheaper than risking a missed real drift.
            log.info("drift: %s %s (%s)", event.container, event.action, event.owner)
            self.events.publish(
                "drift.detected",
                {
                    "container": event.container,
                    "action": event.action,
                    "owner": event.owner,
                    "kind": event.kind,
                },
            )
            loop.call_soon_threadsafe(pending.set)

        thread = threading.Thread(target=self._follow, args=(on_event,), name="drift", daemon=True)
        thread.start()
        while True:
            await pending.wait()
            await asyncio.sleep(DRIFT_DEBOUNCE_SECONDS)
            pending.clear()
            if self.controller.self_heal:
                self.queue.submit("drift")

    def _follow(self, on_event: Callable[[ContainerEvent], None]) -> None:
        stack = ""
        while not self._stop.is_set() and not stack:
            stack = self.controller.stack
            if not stack:
                self._stop.wait(1.0)
        # One stream feeds both the observed-state cache and drift; the cache hears each event
        # first, so a drift pass finds it marked. Passes read through the cache from now on.
        port = self.engine.port
        cache = ObservedCache(port, stack)
        self.engine.observer = cache
        drift = DriftListener(stack, on_event)
        follow(port, [cache, drift], self._stop, since=self.started_at)

    def stop(self) -> None:
        self._stop.set()
        self.jobs.shutdown(wait=False)


class _SchedulerView:
    """What /system/doctor shows of the scheduler: each job and its next run."""

    def __init__(self, jobs: JobScheduler) -> None:
        self._jobs = jobs

    def jobs(self) -> list[dict[str, str | None]]:
        return [
            {"id": job_id, "nextRun": when.isoformat() if when else None}
            for job_id, when in sorted(self._jobs.next_runs().items())
        ]


def _log_progress(message: str) -> None:
    log.info(message)
