"""JobScheduler: APScheduler's AsyncIOScheduler kept in step with the manifests' jobs.

`sync(jobs)` is called after every reconcile: new jobs are added, changed ones replaced,
vanished ones removed, unchanged ones left alone (their next run time is not disturbed).
Each job runs at most `max_instances` at a time (1 for backups), coalesces a backlog into
one run, and runs on a small thread pool so a long dump never blocks the event loop.

Jobs live in memory, so a run missed while the reconciler was down is found from the state
database instead: when a job is first added in this process and its schedule fired within
the grace time after its last recorded run, it runs once right away.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.scheduler.cron import previous_fire, trigger
from reconciler.scheduler.jobs import JobSpec

log = logging.getLogger("reconciler.scheduler")
DEFAULT_WORKERS = 2
RunJob = Callable[[JobSpec], None]
LastRun = Callable[[JobSpec], datetime | None]


@dataclass(frozen=True)
class SyncResult:
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


def _never(_: JobSpec) -> datetime | None:
    return None


class JobScheduler:
    def __init__(
        self,
        run: RunJob,
        *,
        last_run: LastRun = _never,
        event_loop: asyncio.AbstractEventLoop | None = None,
        workers: int = DEFAULT_WORKERS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        self._run = run
        self._last_run = last_run
        self._clock = clock
        options: dict[str, Any] = {
            "executors": {"default": ThreadPoolExecutor(workers)},
            "job_defaults": {"coalesce": True, "max_instances": 1},
            "timezone": UTC,
        }
        if event_loop is not None:
            options["event_loop"] = event_loop
        self._scheduler = AsyncIOScheduler(**options)
        self._specs: dict[str, JobSpec] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start firing jobs; call from the event loop's thread (or pass `event_loop`)."""
        self._scheduler.start()

    def shutdown(self, wait: bool = False) -> None:
        """Stop firing; with `wait`, block until running jobs finish."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)

    def sync(self, jobs: Sequence[JobSpec]) -> SyncResult:
        """Make the scheduled jobs exactly `jobs`; safe to call from any thread."""
        wanted = {job.id: job for job in jobs}
        if len(wanted) != len(jobs):
            raise ValueError("duplicate job ids")
        with self._lock:
            added: list[str] = []
            changed: list[str] = []
            for job_id, spec in wanted.items():
                current = self._specs.get(job_id)
                if current == spec:
                    continue
                self._schedule(spec, catch_up=current is None)
                (added if current is None else changed).append(job_id)
                self._specs[job_id] = spec
            removed = sorted(set(self._specs) - set(wanted))
            for job_id in removed:
                self._scheduler.remove_job(job_id)
                del self._specs[job_id]
        for job_id in [*added, *changed, *removed]:
            log.info("scheduler: %s %s", "removed" if job_id in removed else "scheduled", job_id)
        return SyncResult(tuple(added), tuple(changed), tuple(removed))

    def _schedule(self, spec: JobSpec, *, catch_up: bool) -> None:
        extra: dict[str, Any] = {}
        if catch_up and self._missed(spec):
            log.info("scheduler: %s missed a run while down; running it now", spec.id)
            extra["next_run_time"] = self._clock()
        self._scheduler.add_job(
            self._guarded,
            trigger=trigger(spec.schedule, spec.timezone),
            args=[spec],
            id=spec.id,
            name=spec.id,
            replace_existing=True,
            max_instances=spec.max_instances,
            coalesce=True,
            misfire_grace_time=spec.misfire_grace_time,
            **extra,
        )

    def _missed(self, spec: JobSpec) -> bool:
        now = self._clock()
        grace = timedelta(seconds=spec.misfire_grace_time)
        fired = previous_fire(spec.schedule, now, spec.timezone, grace)
        if fired is None:
            return False
        last = self._last_run(spec)
        return last is not None and last < fired

    def _guarded(self, spec: JobSpec) -> None:
        try:
            self._run(spec)
        except Exception:  # a failed job must not take the scheduler's worker down
            log.exception("scheduler: job %s failed", spec.id)

    def run_now(self, job_id: str) -> None:
        """Fire a scheduled job at once (still at most max_instances at a time)."""
        self._scheduler.modify_job(job_id, next_run_time=self._clock())

    def next_runs(self) -> dict[str, datetime | None]:
        # Before start() a job is pending and has no next run time yet.
        return {job.id: getattr(job, "next_run_time", None) for job in self._scheduler.get_jobs()}
