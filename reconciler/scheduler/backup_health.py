"""Freshness of a stack's declared backups, from the manifests and the state database.

The verdict itself is pure (freshness.py); this module gathers its inputs: the newest completed
record of each declared backup, and when the reconciler first saw the backup scheduled, kept in
the `meta` table so the grace period of a new declaration survives restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler.backups.records import COMPLETED, parse_time
from reconciler.backups.sources import resolve
from reconciler.manifests.models import Backup, Stack
from reconciler.scheduler.freshness import DEGRADED, UNSCHEDULED, Freshness, assess
from reconciler.store.db import Database

#: meta key prefix: backup_first_seen:STACK:NAME -> ISO time the backup was first seen scheduled.
FIRST_SEEN = "backup_first_seen:"


@dataclass(frozen=True)
class BackupStatus:
    stack: str
    backup: str  # the declared backup's name
    source: str  # the add-on, or APP-VOLUME
    kind: str  # addon | volume
    schedule: str | None
    timezone: str
    enabled: bool
    last_success: datetime | None
    watched_since: datetime | None  # None unless scheduled
    freshness: Freshness

    @property
    def degraded(self) -> bool:
        return self.freshness.state == DEGRADED

    def to_dict(self) -> dict[str, Any]:
        interval = self.freshness.interval
        return {
            "stack": self.stack,
            "backup": self.backup,
            "source": self.source,
            "kind": self.kind,
            "schedule": self.schedule,
            "timezone": self.timezone,
            "enabled": self.enabled,
            "freshness": self.freshness.state,
            "reason": self.freshness.reason,
            "intervalSeconds": int(interval.total_seconds()) if interval else None,
            "lastSuccessAt": _iso(self.last_success),
            "watchedSince": _iso(self.watched_since),
            "degradedAt": _iso(self.freshness.degraded_at),
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


def _key(stack: str, name: str) -> str:
    return f"{FIRST_SEEN}{stack}:{name}"


def first_seen(db: Database, stack: str, name: str, now: datetime) -> datetime:
    """When the backup was first seen scheduled; `now` (remembered) if this is the first time."""
    stored = db.get_meta(_key(stack, name))
    if stored:  # the usual case: readers (/health, /metrics) should not take the write lock
        return parse_time(stored)
    db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING",
        (_key(stack, name), now.astimezone(UTC).isoformat(timespec="seconds")),
    )
    stored = db.get_meta(_key(stack, name))
    return parse_time(stored) if stored else now


def _scheduled(backup: Backup) -> bool:
    return backup.enabled and bool(backup.schedule)


def watch(db: Database, stack: Stack, now: datetime) -> None:
    """Start the clock for newly scheduled backups; forget those no longer scheduled, so one
    declared again later gets a fresh grace period rather than an old first-seen time."""
    scheduled = {name for name, backup in stack.backups.items() if _scheduled(backup)}
    for name in sorted(scheduled):
        first_seen(db, stack.stack, name, now)
    prefix = _key(stack.stack, "")
    rows = db.query("SELECT key FROM meta WHERE substr(key, 1, ?) = ?", (len(prefix), prefix))
    for row in rows:
        if str(row["key"])[len(prefix) :] not in scheduled:
            db.set_meta(str(row["key"]), None)


def last_successes(db: Database, stack: str) -> dict[str, datetime]:
    """When each declared backup (by name) last completed."""
    rows = db.query(
        "SELECT job, max(finished_at) AS at FROM backups WHERE stack = ? AND status = ? "
        "AND job != '' AND finished_at IS NOT NULL GROUP BY job",
        (stack, COMPLETED),
    )
    return {str(row["job"]): parse_time(str(row["at"])) for row in rows}


def backup_statuses(db: Database, stack: Stack, now: datetime | None = None) -> list[BackupStatus]:
    """Every declared backup of `stack` with its freshness, by name."""
    moment = now or datetime.now(UTC)
    zone = stack.settings.timezone
    last = last_successes(db, stack.stack) if stack.backups else {}
    statuses = []
    for name, backup in sorted(stack.backups.items()):
        target = resolve(stack, name)
        what = f"{target.source} ({name})" if name != target.source else name
        watched = first_seen(db, stack.stack, name, moment) if _scheduled(backup) else None
        if not backup.enabled:
            verdict = Freshness(UNSCHEDULED, f"backup {name} is disabled (enabled: false)")
        else:
            since = watched or moment
            verdict = assess(what, backup.schedule, zone, last.get(name), since, moment)
        statuses.append(
            BackupStatus(stack.stack, name, target.source, target.kind, backup.schedule, zone,
                         backup.enabled, last.get(name), watched, verdict)
        )  # fmt: skip
    return statuses


def degraded_reasons(statuses: list[BackupStatus]) -> list[str]:
    return [f"backup {s.backup}: {s.freshness.reason}" for s in statuses if s.degraded]
