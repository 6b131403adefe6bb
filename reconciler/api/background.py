"""Triggers that run for long in a worker thread of their own: backups, restores, task runs.

A view starts the work and answers 202 as soon as the work has claimed what it needs (the
source's lock and its record for a backup, the source's lock for a restore, the first run's
record for a task): a refusal found before that point (a busy source, a task that forbids a
second run) still reaches the caller as an error answer, and nothing waits for the work itself.

Backups and task runs announce themselves through their records (monitor.RunWatch), whoever
started them; restores are recorded too (GET /restores), but their events are published here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconciler.api.errors import redact
from reconciler.backups.restore import RestorePlan, restore
from reconciler.backups.restore_records import Origin
from reconciler.backups.service import BackupService, source_lock
from reconciler.daemon.events import EventBus
from reconciler.manifests.models import Stack
from reconciler.scheduler.tasks import TaskRunner
from reconciler.state.errors import ReconcilerError

log = logging.getLogger("reconciler.api")

#: Work gets a `started` callback and calls it, with the id the answer carries, once the work
#: holds what it needs; whatever it raises before that is the answer instead.
Started = Callable[[int], None]
Work = Callable[[Started], object]


class _NeverStarted(Exception):
    """The work returned without calling `started`."""


async def start_in_thread(name: str, work: Work) -> int:
    """Run `work` in a new thread; return the id it passed to `started`, or raise what it
    raised before calling it. Failures after that are the work's to record; they are logged.

    The thread is not a daemon thread: a stopping reconciler lets the work finish its records.
    """
    loop = asyncio.get_running_loop()
    begun: asyncio.Future[int] = loop.create_future()
    announced = threading.Event()

    def settle(value: int | None, error: BaseException | None) -> None:
        if begun.done():  # the caller went away; the work goes on
            return
        if error is not None:
            begun.set_exception(error)
        else:
            begun.set_result(value if value is not None else 0)

    def hand_over(value: int | None, error: BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            loop.call_soon_threadsafe(settle, value, error)

    def started(value: int) -> None:
        if not announced.is_set():
            announced.set()
            hand_over(value, None)

    def body() -> None:
        try:
            work(started)
        except ReconcilerError as e:
            if not announced.is_set():
                hand_over(None, e)
                return
            log.warning("%s failed: %s", name, redact(str(e)))
        except Exception as e:
            if not announced.is_set():
                hand_over(None, e)
                return
            log.exception("%s failed", name)
        else:
            if not announced.is_set():
                hand_over(None, _NeverStarted(f"{name} ended before it started"))

    threading.Thread(target=body, name=name).start()
    return await begun


def backup_work(service: BackupService, stack: Stack, addon: str) -> Work:
    """Back up `addon` (through its declared backup, if it has one: verify and retention too).

    `started` gets the record's id once the source's lock is held and the record exists; a
    failing dump leaves a failed record, as every backup does."""

    def work(started: Started) -> None:
        service.backup(stack, addon, started=started)

    return work


def restore_work(
    service: BackupService,
    plan: RestorePlan,
    bus: EventBus,
    done: Callable[[], None],
    origin: Origin,
) -> Work:
    """Restore `plan` while holding the target's lock, taken before the answer (409 if busy).

    `started` gets the restore record's id once it exists. Publishes restore.started and then
    restore.finished or restore.failed; calls `done` at the end, whatever happened (the API's
    view of the stack is stale by then)."""
    target = plan.target
    about = restore_summary(plan)

    def work(started: Started) -> None:
        def begun(restore_id: int) -> None:
            about["restoreId"] = restore_id
            started(restore_id)
            bus.publish("restore.started", about)

        with source_lock(service.state_dir, target):
            began = time.monotonic()
            try:
                restore(service, plan, source_locked=True, origin=origin, started=begun)
            except Exception as e:
                reason = redact(service.mask_for(target)(str(e) or type(e).__name__))
                bus.publish("restore.failed", {**about, "error": reason, **_took(began)})
                raise
            finally:
                done()
            bus.publish("restore.finished", {**about, **_took(began)})

    return work


def task_work(
    runner: TaskRunner, path: Callable[[], Path], task: str, done: Callable[[], None]
) -> Work:
    """Run a declared task now (its retries included); `started` gets the first run's id."""

    def work(started: Started) -> None:
        try:
            runner.run(path(), task, trigger="api", started=started)
        finally:
            done()

    return work


def restore_summary(plan: RestorePlan) -> dict[str, Any]:
    target = plan.target
    return {
        "backupId": plan.record.id,
        "source": plan.record.source,
        "kind": target.kind,
        "addon": target.source if target.kind == "addon" else None,
        "container": target.container or None,
        "volume": target.volume,
        "stoppedApps": list(target.apps),
    }


def _took(began: float) -> dict[str, float]:
    return {"seconds": round(time.monotonic() - began, 2)}
