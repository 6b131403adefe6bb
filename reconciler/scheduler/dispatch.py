"""JobRunner: what a scheduled job does, against the manifests the daemon last accepted.

The daemon hands `JobRunner.run` and `JobRunner.last_run` to JobScheduler, and calls
`JobScheduler.sync(runner.specs())` after every reconcile pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from reconciler.backups.records import now, parse_time
from reconciler.backups.service import BackupService
from reconciler.desired.load import load_manifests
from reconciler.engine import Engine
from reconciler.scheduler.backup_health import watch
from reconciler.scheduler.jobs import BACKUP, PRUNE, TASK, JobSpec, job_specs
from reconciler.scheduler.runs import TaskRunLog
from reconciler.scheduler.tasks import TaskRunner
from reconciler.state.errors import ReconcilerError
from reconciler.store.db import Database

log = logging.getLogger("reconciler.scheduler")
PRUNE_META = "prune_last_run:"


class JobRunner:
    def __init__(
        self,
        engine: Engine,
        db: Database,
        manifest_dir: Callable[[], Path],
        report: Callable[[str], None] = log.info,
    ) -> None:
        self.db = db
        self.manifest_dir = manifest_dir
        self.backups = BackupService(engine.port, db, engine.settings.state_dir, report)
        self.tasks = TaskRunner(engine, db, report)
        self.task_runs = TaskRunLog(db)

    def specs(self) -> list[JobSpec]:
        """The jobs the current manifests declare (loading them; call off the event loop).

        Also starts the freshness clock of newly scheduled backups (called after every pass)."""
        stack = load_manifests(self.manifest_dir()).stack
        watch(self.db, stack, datetime.now(UTC))
        return job_specs(stack)

    def recover(self) -> None:
        """Call once at start: runs that died with the last process become failed records."""
        for record in self.backups.recover():
            log.warning("backup %d of %s was interrupted; marked failed", record.id, record.source)

    def run(self, spec: JobSpec) -> None:
        path = self.manifest_dir()
        try:
            if spec.kind == BACKUP:
                stack = load_manifests(path).stack
                if spec.name not in stack.backups:
                    log.info("scheduler: backup %s is no longer declared; skipped", spec.name)
                    return
                record = self.backups.backup(stack, spec.name)
                log.info("backup %d of %s completed", record.id, record.source)
            elif spec.kind == TASK:
                run = self.tasks.run(path, spec.name, trigger="schedule")
                log.info("task %s: run %d %s", spec.name, run.id, run.status)
            elif spec.kind == PRUNE:
                self.prune(path)
        except ReconcilerError as e:
            log.error("scheduled %s %s failed: %s", spec.kind, spec.name, e)

    def prune(self, path: Path) -> None:
        stack = load_manifests(path).stack
        deleted = self.backups.prune(stack)
        for task in stack.tasks:
            self.task_runs.trim(stack.stack, task)
        self.db.set_meta(PRUNE_META + stack.stack, now())
        log.info("prune: %d backup(s) deleted by retention", len(deleted))

    def last_run(self, spec: JobSpec) -> datetime | None:
        if spec.kind == BACKUP:
            text = self.backups.log.last_started(spec.stack, spec.name)
        elif spec.kind == TASK:
            text = self.task_runs.last_started(spec.stack, spec.name)
        else:
            text = self.db.get_meta(PRUNE_META + spec.stack)
        return parse_time(text).astimezone(UTC) if text else None
