"""GET /system/doctor: is everything the daemon depends on reachable, what is it running, and
are its declared backups fresh."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from reconciler.api.errors import redact
from reconciler.api.freshness import declared_statuses
from reconciler.daemon.controller import GIT_ERROR, LAST_GOOD, LAST_REFUSED, PINNED
from reconciler.daemon.service import Daemon
from reconciler.gitsync.remote import parse_remote
from reconciler.scheduler.backup_health import degraded_reasons
from reconciler.state.errors import ReconcilerError

LOW_DISK_BYTES = 1024**3


def _timed(check: Callable[[], Any]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        check()
    except ReconcilerError as e:
        return {"ok": False, "error": redact(str(e))}
    return {"ok": True, "latencyMs": round((time.perf_counter() - started) * 1000, 1)}


def _disk(daemon: Daemon) -> dict[str, Any]:
    path = daemon.settings.state_dir
    try:
        usage = shutil.disk_usage(path)
    except OSError as e:
        return {"ok": False, "path": str(path), "error": e.strerror or str(e)}
    return {
        "ok": usage.free >= LOW_DISK_BYTES,
        "path": str(path),
        "freeBytes": usage.free,
        "totalBytes": usage.total,
        "percentFree": round(usage.free / usage.total * 100, 1) if usage.total else None,
    }


def _git(daemon: Daemon) -> dict[str, Any]:
    error = daemon.db.get_meta(GIT_ERROR)
    try:
        current = daemon.mirror.current()
    except ReconcilerError as e:
        current, error = None, error or str(e)
    return {
        "ok": error is None,
        "error": redact(error) if error else None,
        "repo": redact(parse_remote(daemon.settings.repo).url),
        "branch": daemon.branch,
        "checkedOut": current.sha if current else None,
        "subject": current.subject if current else None,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _scheduler_jobs(daemon: Daemon) -> list[Any]:
    """The scheduler's jobs when the daemon has one (`daemon.scheduler.jobs()`), else []."""
    jobs = getattr(getattr(daemon, "scheduler", None), "jobs", None)
    if not callable(jobs):
        return []
    try:
        return list(_jsonable(list(jobs())))
    except Exception as e:  # a broken scheduler is a finding, not a failed doctor
        return [{"error": f"listing scheduler jobs failed: {type(e).__name__}"}]


def _report(daemon: Daemon) -> dict[str, Any]:
    docker = _timed(daemon.engine.port.ping)
    git = _git(daemon)
    disk = _disk(daemon)
    pinned = daemon.db.get_meta(PINNED)
    backups = declared_statuses(daemon)
    degraded = degraded_reasons(backups)
    # Nothing checked out yet (no good sync so far) is degraded even if every probe answers.
    checks_ok = docker["ok"] and git["ok"] and disk["ok"] and git["checkedOut"] is not None
    checks_ok = checks_ok and not degraded
    return {
        "status": "ok" if checks_ok else ("failing" if not docker["ok"] else "degraded"),
        "docker": docker,
        "git": git,
        "revision": {
            "current": git["checkedOut"],
            "lastGood": daemon.db.get_meta(LAST_GOOD),
            "lastRefused": daemon.db.get_meta(LAST_REFUSED),
            "pinned": pinned is not None,
            "pinnedRevision": pinned,
        },
        "disk": disk,
        "queue": {
            "running": daemon.queue.running is not None,
            "queued": daemon.queue.queued,
            "passes": daemon.queue.passes,
        },
        "scheduler": {"jobs": _scheduler_jobs(daemon)},
        "backups": {"ok": not degraded, "declared": len(backups), "degraded": degraded},
        "uptimeSeconds": round(time.time() - daemon.started_at, 1),
    }


async def doctor_report(daemon: Daemon) -> dict[str, Any]:
    # ping, git and statvfs block: keep them off the event loop.
    return await asyncio.get_running_loop().run_in_executor(None, _report, daemon)
