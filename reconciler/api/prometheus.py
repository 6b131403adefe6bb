"""GET /metrics: Prometheus text exposition built from the state database.

Deployment records are pruned, so the reconcile histogram and the drift-repair count cover the
records kept; they are exposed as gauges where pruning could make a counter go down. Backups
are read from a `backups` table when one exists, whatever columns its version has; whether each
declared backup is degraded comes from the manifests checked out (freshness.py).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from reconciler import __version__
from reconciler.api.freshness import declared_statuses
from reconciler.daemon.controller import GIT_ERROR, LAST_RECONCILE, PINNED
from reconciler.daemon.service import Daemon
from reconciler.scheduler.backup_health import BackupStatus
from reconciler.store.db import Database

BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
_SUCCESS = ("succeeded", "success", "completed", "complete", "ok", "done")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items())) + "}"


def _family(name: str, kind: str, help_: str, samples: Iterable[str]) -> list[str]:
    return [f"# HELP {name} {help_}", f"# TYPE {name} {kind}", *samples]


def _seconds(start: str | None, end: str | None) -> float | None:
    try:
        return (
            datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))
        ).total_seconds()
    except (TypeError, ValueError):
        return None


def _timestamp(value: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except (TypeError, ValueError):
        return None


def _histogram(name: str, help_: str, values: Sequence[float]) -> list[str]:
    samples = [f'{name}_bucket{{le="{b:g}"}} {sum(1 for v in values if v <= b)}' for b in BUCKETS]
    samples += [f'{name}_bucket{{le="+Inf"}} {len(values)}']
    samples += [f"{name}_sum {sum(values):.3f}", f"{name}_count {len(values)}"]
    return _family(name, "histogram", help_, samples)


def _deployment_metrics(db: Database) -> list[str]:
    rows = db.query("SELECT status, trigger, started_at, finished_at FROM deployments")
    durations = [
        d
        for row in rows
        if row["status"] != "running"
        and (d := _seconds(row["started_at"], row["finished_at"])) is not None
    ]
    by_status = Counter(str(row["status"]) for row in rows)
    repairs = sum(1 for r in rows if r["trigger"] == "drift" and r["status"] == "succeeded")
    lines = _histogram(
        "reconciler_reconcile_duration_seconds",
        "Duration of the reconciles in the kept deployment records.",
        durations,
    )
    lines += _family(
        "reconciler_deployments",
        "gauge",
        "Kept deployment records by status.",
        [f"reconciler_deployments{_labels(status=s)} {n}" for s, n in sorted(by_status.items())],
    )
    lines += _family(
        "reconciler_drift_repairs",
        "gauge",
        "Kept deployments triggered by drift that changed something and succeeded.",
        [f"reconciler_drift_repairs {repairs}"],
    )
    return lines


def _columns(db: Database, table: str) -> set[str]:
    exists = db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
    if not exists:
        return set()
    return {str(row["name"]) for row in db.query(f"PRAGMA table_info({table})")}


def _first(candidates: Sequence[str], columns: set[str]) -> str | None:
    return next((c for c in candidates if c in columns), None)


def _backup_rows(db: Database) -> list[Any]:
    """(stack, backup, source, status, finished) of every record, whatever the table's vintage."""
    columns = _columns(db, "backups")
    source = _first(("source", "addon", "addon_name", "target", "name"), columns)
    status = _first(("status", "state", "result"), columns)
    if not (source and status):
        return []
    finished = _first(("finished_at", "completed_at", "ended_at", "created_at"), columns)
    stack, job = _first(("stack",), columns), _first(("job", "backup"), columns)
    # Column names come from the fixed candidate lists above, never from input.
    aliased = ((stack, "stack"), (job, "job"), (source, "source"), (status, "status"))
    picked = ", ".join(f"{c} AS {alias}" if c else f"'' AS {alias}" for c, alias in aliased)
    return db.query(f"SELECT {picked}, {finished or 'NULL'} AS finished FROM backups")


def _backup_metrics(db: Database) -> list[str]:
    rows = _backup_rows(db)
    if not rows:
        return []
    results = Counter((str(r["source"]), str(r["status"])) for r in rows)
    last: dict[tuple[str, str, str], float] = {}
    for row in rows:
        at = _timestamp(row["finished"])
        if str(row["status"]).lower() in _SUCCESS and at is not None:
            key = (str(row["stack"]), str(row["job"]), str(row["source"]))
            last[key] = max(at, last.get(key, 0.0))
    lines = _family(
        "reconciler_backups",
        "gauge",
        "Kept backup records by source and status.",
        [
            f"reconciler_backups{_labels(source=s, status=t)} {n}"
            for (s, t), n in sorted(results.items())
        ],
    )
    return lines + _family(
        "reconciler_backup_last_success_timestamp_seconds",
        "gauge",
        "When the newest successful backup finished (unix time), by declared backup "
        '(backup="" for ad-hoc backups of an add-on nothing declares).',
        [
            f"reconciler_backup_last_success_timestamp_seconds"
            f"{_labels(stack=st, backup=b, source=so)} {t:.3f}"
            for (st, b, so), t in sorted(last.items())
        ],
    )


def _freshness_metrics(statuses: Sequence[BackupStatus]) -> list[str]:
    if not statuses:
        return []
    return _family(
        "reconciler_backup_degraded",
        "gauge",
        "1 when a declared backup has had no successful run within twice its schedule's "
        "interval (unscheduled and disabled backups are 0).",
        [
            f"reconciler_backup_degraded{_labels(stack=s.stack, backup=s.backup, source=s.source)}"
            f" {1 if s.degraded else 0}"
            for s in statuses
        ],
    )


def _daemon_metrics(daemon: Daemon) -> list[str]:
    db = daemon.db
    last = db.get_meta(LAST_RECONCILE)
    at = _timestamp(json.loads(last).get("at")) if last else None
    lines = _family("reconciler_info", "gauge", "Version of the reconciler.",
                    [f"reconciler_info{_labels(version=__version__)} 1"])  # fmt: skip
    lines += _family("reconciler_git_sync_ok", "gauge", "1 when the last fetch succeeded.",
                     [f"reconciler_git_sync_ok {0 if db.get_meta(GIT_ERROR) else 1}"])  # fmt: skip
    lines += _family("reconciler_pinned", "gauge", "1 while pinned to a revision (rollback).",
                     [f"reconciler_pinned {1 if db.get_meta(PINNED) else 0}"])  # fmt: skip
    lines += _family("reconciler_trigger_passes_total", "counter",
                     "Reconcile passes run by this process.",
                     [f"reconciler_trigger_passes_total {daemon.queue.passes}"])  # fmt: skip
    if at is not None:
        lines += _family("reconciler_last_reconcile_timestamp_seconds", "gauge",
                         "When the last reconcile finished (unix time).",
                         [f"reconciler_last_reconcile_timestamp_seconds {at:.3f}"])  # fmt: skip
    return lines


def render(daemon: Daemon) -> str:
    lines = _daemon_metrics(daemon) + _deployment_metrics(daemon.db) + _backup_metrics(daemon.db)
    lines += _freshness_metrics(declared_statuses(daemon))
    return "\n".join(lines) + "\n"
