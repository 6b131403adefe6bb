"""Turn what the daemon records into events: deployments, their actions, drift repairs,
backups and task runs, and changes of each workload's state or health.

Every pass writes the state database, so reading its newest rows once a second sees every
deployment whatever triggered it, without a hook in the controller; backups and task runs are
recorded as they start and end, so the same reading announces them whoever started them (the
API, the scheduler or the CLI). Health is compared between views of the stack, refreshed every
few seconds while someone listens.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from reconciler.api.errors import redact
from reconciler.api.keys import ApiState
from reconciler.backups.records import BackupRecord
from reconciler.daemon.controller import QUIET_TRIGGERS
from reconciler.daemon.events import EventBus
from reconciler.daemon.service import Daemon
from reconciler.scheduler.runs import TaskRun
from reconciler.store.db import Database
from reconciler.store.deployments import Deployment

log = logging.getLogger("reconciler.api")
DEPLOYMENT_POLL_SECONDS = 1.0
HEALTH_EVERY_POLLS = 5


class DeploymentWatch:
    """Publishes deployment.started, deployment.finished, action and drift.repaired events."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._started: set[int] = set()
        self._finished: deque[int] = deque(maxlen=500)
        self._floor: int | None = None

    def see(self, deployments: list[Deployment]) -> None:
        if self._floor is None:  # history before we started is not news
            self._floor = max((d.id for d in deployments if d.status != "running"), default=0)
        for deployment in sorted(deployments, key=lambda d: d.id):
            if deployment.id <= self._floor or deployment.id in self._finished:
                continue
            if deployment.status == "running":
                if deployment.id not in self._started and deployment.trigger not in QUIET_TRIGGERS:
                    self._started.add(deployment.id)
                    self._bus.publish("deployment.started", _summary(deployment))
                continue
            self._finished.append(deployment.id)
            self._started.discard(deployment.id)
            self._finish(deployment)

    def _finish(self, deployment: Deployment) -> None:
        self._bus.publish(
            "deployment.finished", {**_summary(deployment), "errors": deployment.errors}
        )
        for action in deployment.actions:
            self._bus.publish(
                "action",
                {
                    "deploymentId": deployment.id,
                    **{
                        k: action.get(k)
                        for k in ("action", "kind", "name", "result", "error")
                        if k in action
                    },
                },
            )
        if deployment.trigger == "drift":
            self._bus.publish("drift.repaired", _summary(deployment))


def _summary(deployment: Deployment) -> dict[str, Any]:
    return {
        "deploymentId": deployment.id,
        "status": deployment.status,
        "trigger": deployment.trigger,
        "revision": deployment.revision,
        "startedAt": deployment.started_at,
        "finishedAt": deployment.finished_at,
    }


class HealthWatch:
    """Publishes health.changed when a workload's state or health differs from the last look."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._last: dict[tuple[str, str], tuple[str, str]] | None = None

    def see(self, objects: dict[str, dict[str, dict[str, Any]]]) -> None:
        now = {
            (kind, name): (str(obj["status"]), str(obj["health"]))
            for kind, named in objects.items()
            for name, obj in named.items()
        }
        before, self._last = self._last, now
        if before is None:
            return
        for key in sorted(set(before) | set(now)):
            old, new = before.get(key), now.get(key)
            if old == new:
                continue
            kind, name = key
            self._bus.publish(
                "health.changed",
                {
                    "kind": kind,
                    "name": name,
                    "from": {"state": old[0], "health": old[1]} if old else None,
                    "to": {"state": new[0], "health": new[1]} if new else None,
                },
            )


@dataclass(frozen=True)
class RunTable:
    """A table with one row per run, written as the run starts (status `running`) and ends."""

    table: str
    family: str  # the event family: FAMILY.started, FAMILY.finished, FAMILY.failed
    succeeded: str  # the status of a run that went well; any other end is a failure
    summary: Callable[[sqlite3.Row], dict[str, Any]]


def _backup_summary(row: sqlite3.Row) -> dict[str, Any]:
    record = BackupRecord.from_row(row).to_dict()
    body = {"backupId": record.pop("id")}
    body.update((k, v) for k, v in record.items() if k not in ("path", "verifyDetail"))
    body["error"] = redact(body["error"])  # masked by the service; URLs and tokens here
    return body


def _task_summary(row: sqlite3.Row) -> dict[str, Any]:
    run = TaskRun.from_row(row).to_dict()
    body = {"runId": run.pop("id")}
    body.update((k, v) for k, v in run.items() if k != "logTail")
    return body


BACKUPS = RunTable("backups", "backup", "completed", _backup_summary)
TASK_RUNS = RunTable("task_runs", "task", "succeeded", _task_summary)
RUNNING = "running"


class RunWatch:
    """Publishes FAMILY.started when a run's row appears and FAMILY.finished or FAMILY.failed
    when it ends. Runs that ended before the first look are history, not news; a run that
    started and ended between two looks gets both events, in order."""

    def __init__(self, bus: EventBus, runs: RunTable) -> None:
        self._bus = bus
        self._runs = runs
        self._last: int | None = None  # the highest id seen
        self._running: set[int] = set()

    def poll(self, db: Database) -> None:
        table = self._runs.table  # a constant of this module, never input
        if self._last is None:
            top = db.query(f"SELECT max(id) AS id FROM {table}")
            self._last = int(top[0]["id"] or 0)
            running = db.query(f"SELECT id FROM {table} WHERE status = ?", (RUNNING,))
            self._running = {int(row["id"]) for row in running}
            return
        tracked = sorted(self._running)
        marks = ",".join("?" * len(tracked))
        rows = db.query(
            f"SELECT * FROM {table} WHERE id > ? OR id IN ({marks}) ORDER BY id",
            (self._last, *tracked),
        )
        self.see(rows, tracked)

    def see(self, rows: Iterable[sqlite3.Row], tracked: Iterable[int] = ()) -> None:
        """`rows`: the rows newer than the last look and those of `tracked` (running) ids."""
        assert self._last is not None
        found: set[int] = set()
        for row in rows:
            run_id = int(row["id"])
            found.add(run_id)
            summary = self._runs.summary(row)
            if run_id > self._last:
                self._last = run_id
                self._bus.publish(f"{self._runs.family}.started", summary)
            if row["status"] == RUNNING:
                self._running.add(run_id)
                continue
            self._running.discard(run_id)
            ended = "finished" if row["status"] == self._runs.succeeded else "failed"
            self._bus.publish(f"{self._runs.family}.{ended}", summary)
        self._running -= set(tracked) - found  # deleted meanwhile (retention, trimming)


async def watch(daemon: Daemon, state: ApiState) -> None:
    """Run until cancelled; a failed look is logged and retried, never fatal."""
    deployments = DeploymentWatch(state.bus)
    health = HealthWatch(state.bus)
    run_watches = [RunWatch(state.bus, BACKUPS), RunWatch(state.bus, TASK_RUNS)]
    polls = 0
    while True:
        try:
            deployments.see(daemon.controller.deployments.list(limit=20))
            for run_watch in run_watches:
                run_watch.poll(daemon.db)
            if polls % HEALTH_EVERY_POLLS == 0 and state.bus.subscribers:
                snapshot = await state.view.snapshot(max_age=DEPLOYMENT_POLL_SECONDS)
                health.see(snapshot.objects)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.debug("event watch: %s", e)
        polls += 1
        await asyncio.sleep(DEPLOYMENT_POLL_SECONDS)
