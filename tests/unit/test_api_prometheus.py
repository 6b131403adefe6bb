"""Prometheus text from the state database, including a backups table of unknown vintage."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from reconciler.api.prometheus import _backup_metrics, _deployment_metrics, _freshness_metrics
from reconciler.manifests.models import Stack
from reconciler.scheduler.backup_health import backup_statuses
from reconciler.store.db import Database

INSERT = (
    "INSERT INTO deployments (stack, revision, trigger, started_at, finished_at, status) "
    "VALUES ('s', 'abc', ?, ?, ?, ?)"
)


def test_deployment_durations_statuses_and_drift_repairs(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.db")
    db.execute(
        INSERT, ("api", "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:02+00:00", "succeeded")
    )
    db.execute(
        INSERT, ("drift", "2026-01-01T00:01:00+00:00", "2026-01-01T00:01:40+00:00", "succeeded")
    )
    db.execute(INSERT, ("poll", "2026-01-01T00:02:00+00:00", None, "running"))
    text = "\n".join(_deployment_metrics(db))
    assert 'reconciler_reconcile_duration_seconds_bucket{le="2.5"} 1' in text
    assert 'reconciler_reconcile_duration_seconds_bucket{le="60"} 2' in text
    assert 'reconciler_reconcile_duration_seconds_bucket{le="+Inf"} 2' in text
    assert "reconciler_reconcile_duration_seconds_sum 42.000" in text
    assert 'reconciler_deployments{status="running"} 1' in text
    assert 'reconciler_deployments{status="succeeded"} 2' in text
    assert "reconciler_drift_repairs 1" in text
    assert "# TYPE reconciler_reconcile_duration_seconds histogram" in text


def test_backups_are_optional_and_read_defensively(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.db")
    # Written against no table, and against columns older or newer than the current schema.
    db.execute("DROP TABLE IF EXISTS backups")
    assert _backup_metrics(db) == []
    db.execute("CREATE TABLE backups (id INTEGER PRIMARY KEY, addon TEXT, status TEXT, "
               "finished_at TEXT)")  # fmt: skip
    for addon, status, at in (
        ("db", "succeeded", "2026-01-01T00:00:00+00:00"),
        ("db", "succeeded", "2026-01-02T00:00:00+00:00"),
        ("db", "failed", "2026-01-03T00:00:00+00:00"),
        ('we"ird', "in_progress", None),
    ):
        db.execute("INSERT INTO backups (addon, status, finished_at) VALUES (?, ?, ?)",
                   (addon, status, at))  # fmt: skip
    text = "\n".join(_backup_metrics(db))
    assert 'reconciler_backups{source="db",status="succeeded"} 2' in text
    assert 'reconciler_backups{source="db",status="failed"} 1' in text
    assert 'reconciler_backups{source="we\\"ird",status="in_progress"} 1' in text
    # No stack or job column in that vintage: those labels are empty (as good as absent).
    assert (
        'reconciler_backup_last_success_timestamp_seconds{backup="",source="db",stack=""} '
        "1767312000.000" in text
    )


def test_last_success_and_degraded_by_declared_backup(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.db")
    for job, status, at in (
        ("db-nightly", "completed", "2026-01-01T00:00:00+00:00"),
        ("db-nightly", "failed", "2026-01-02T00:00:00+00:00"),
        ("", "completed", "2026-01-03T00:00:00+00:00"),
    ):
        db.execute(
            "INSERT INTO backups (stack, source, job, kind, started_at, finished_at, status) "
            "VALUES ('shop', 'db', ?, 'addon', ?, ?, ?)",
            (job, at, at, status),
        )
    text = "\n".join(_backup_metrics(db))
    family = "reconciler_backup_last_success_timestamp_seconds"
    assert f"# TYPE {family} gauge" in text and f"# HELP {family} " in text
    assert f'{family}{{backup="db-nightly",source="db",stack="shop"}} 1767225600.000' in text
    assert f'{family}{{backup="",source="db",stack="shop"}} 1767398400.000' in text

    stack = Stack.model_validate(
        {
            "version": 1,
            "stack": "shop",
            "addons": {"db": {"type": "postgresql"}},
            "backups": {
                "db-nightly": {"addon": "db", "schedule": "0 3 * * *"},
                "db-adhoc": {"addon": "db"},
            },
        }
    )
    now = datetime(2026, 1, 5, tzinfo=UTC)
    text = "\n".join(_freshness_metrics(backup_statuses(db, stack, now)))
    assert "# TYPE reconciler_backup_degraded gauge" in text
    assert "# HELP reconciler_backup_degraded " in text
    assert 'reconciler_backup_degraded{backup="db-nightly",source="db",stack="shop"} 1' in text
    assert 'reconciler_backup_degraded{backup="db-adhoc",source="db",stack="shop"} 0' in text
    assert _freshness_metrics([]) == []
