"""Backup freshness: the interval read off a cron schedule, and the degraded-after-two-intervals
rule, including the grace period of a backup that never succeeded; then the first-seen clock
and the gathering of records from a real state database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.cli.backup_status import backup_rows, backup_text
from reconciler.manifests.models import Stack
from reconciler.scheduler.backup_health import (
    FIRST_SEEN,
    backup_statuses,
    degraded_reasons,
    first_seen,
    watch,
)
from reconciler.scheduler.freshness import (
    DEGRADED,
    OK,
    UNSCHEDULED,
    assess,
    human_duration,
    schedule_interval,
)
from reconciler.store.db import Database

#: A Friday.
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=400)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("schedule", "interval"),
    [
        ("* * * * *", timedelta(minutes=1)),
        ("*/15 * * * *", timedelta(minutes=15)),
        ("0 * * * *", timedelta(hours=1)),
        ("@hourly", timedelta(hours=1)),
        ("0 3 * * *", timedelta(days=1)),
        ("0 3,15 * * *", timedelta(hours=12)),
        ("0 2 * * 0", timedelta(days=7)),
        ("@weekly", timedelta(days=7)),
        ("0 0 1 * *", timedelta(days=31)),  # Oct 1 -> Nov 1 -> Dec 1: the longer gap counts
        ("0 0 1 1 *", timedelta(days=365)),
        # Weekdays only, seen on a Friday: Thu -> Fri is 1d, Fri -> Mon is 3d: the longer one.
        ("0 2 * * 1-5", timedelta(days=3)),
    ],
)
def test_the_interval_comes_from_the_fire_times_around_now(
    schedule: str, interval: timedelta
) -> None:
    assert schedule_interval(schedule, "UTC", NOW) == interval


def test_a_schedule_that_never_fires_has_no_interval() -> None:
    assert schedule_interval("0 0 30 2 *", "UTC", NOW) is None  # February 30th
    verdict = assess("db", "0 0 30 2 *", "UTC", None, LONG_AGO, NOW)
    assert verdict.state == UNSCHEDULED


def test_human_durations() -> None:
    assert human_duration(timedelta(days=2)) == "2d"
    assert human_duration(timedelta(days=2, hours=12)) == "2d12h"
    assert human_duration(timedelta(minutes=90)) == "1h30m"
    assert human_duration(timedelta(seconds=20)) == "0m"


def test_daily_backup_degrades_after_two_days_without_success() -> None:
    last = _at("2026-11-18T03:00:00+00:00")
    fresh = assess("db", "0 3 * * *", "UTC", last, LONG_AGO, last + timedelta(days=1, hours=23))
    assert fresh.state == OK and fresh.interval == timedelta(days=1)
    assert fresh.reason.startswith("last successful backup of db 2026-11-18T03:00Z")
    stale = assess("db", "0 3 * * *", "UTC", last, LONG_AGO, last + timedelta(days=2, minutes=1))
    assert stale.state == DEGRADED and stale.degraded
    assert stale.reason == (
        "no successful backup of db since 2026-11-18T03:00Z; "
        "expected one every 1d (degraded after 2d)"
    )
    assert stale.degraded_at == last + timedelta(days=2)


def test_hourly_backup() -> None:
    last = NOW - timedelta(hours=1, minutes=59)
    assert assess("db", "0 * * * *", "UTC", last, LONG_AGO, NOW).state == OK
    late = assess("db", "0 * * * *", "UTC", NOW - timedelta(hours=2, minutes=1), LONG_AGO, NOW)
    assert late.state == DEGRADED and "every 1h (degraded after 2h)" in late.reason


def test_weekly_backup() -> None:
    assert assess("db", "0 2 * * 0", "UTC", NOW - timedelta(days=13), LONG_AGO, NOW).state == OK
    late = assess("db", "0 2 * * 0", "UTC", NOW - timedelta(days=15), LONG_AGO, NOW)
    assert late.state == DEGRADED and "every 7d (degraded after 14d)" in late.reason


def test_the_schedule_is_read_in_its_time_zone() -> None:
    zone = "America/New_York"
    assert schedule_interval("0 3 * * *", zone, NOW) == timedelta(days=1)
    # Working hours: at 20:00 UTC it is 15:00 in New York (hourly runs going on) but after
    # 17:00 in UTC (the next run is tomorrow at 09:00).
    assert schedule_interval("0 9-17 * * *", zone, NOW.replace(hour=20)) == timedelta(hours=1)
    assert schedule_interval("0 9-17 * * *", "UTC", NOW.replace(hour=20)) == timedelta(hours=16)
    # The night clocks go back (Nov 1, 2026) lasts 25 hours between two 03:00 runs.
    fall_back = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    assert schedule_interval("0 3 * * *", zone, fall_back) == timedelta(hours=25)
    assert schedule_interval("0 3 * * *", "UTC", fall_back) == timedelta(days=1)
    last = fall_back - timedelta(hours=49)
    assert assess("db", "0 3 * * *", zone, last, LONG_AGO, fall_back).state == OK
    assert assess("db", "0 3 * * *", "UTC", last, LONG_AGO, fall_back).state == DEGRADED


def test_never_succeeded_is_measured_from_first_seen() -> None:
    just_declared = assess("db", "0 3 * * *", "UTC", None, NOW - timedelta(hours=1), NOW)
    assert just_declared.state == OK
    assert "no successful backup of db yet (first seen 2026-11-20T11:00Z)" in just_declared.reason
    never = assess("db", "0 3 * * *", "UTC", None, NOW - timedelta(days=2, minutes=1), NOW)
    assert never.state == DEGRADED
    assert never.reason == (
        "no successful backup of db since it was first seen 2026-11-18T11:59Z; "
        "expected one every 1d (degraded after 2d)"
    )


def test_unscheduled_backups_are_never_degraded() -> None:
    verdict = assess("db", None, "UTC", None, LONG_AGO, NOW)
    assert verdict.state == UNSCHEDULED and verdict.interval is None
    assert "on demand only" in verdict.reason


# --- gathered from the state database -----------------------------------------------------------


def _stack() -> Stack:
    return Stack.model_validate(
        {
            "version": 1,
            "stack": "shop",
            "addons": {"db": {"type": "postgresql"}},
            "apps": {"web": {"image": "nginx", "volumes": {"uploads": "/data"}}},
            "backups": {
                "db-nightly": {"addon": "db", "schedule": "0 3 * * *"},
                "db-manual": {"addon": "db"},
                "uploads": {"volume": {"app": "web", "name": "uploads"}, "schedule": "@hourly"},
                "off": {"addon": "db", "schedule": "@hourly", "enabled": False},
            },
        }
    )


def _record(db: Database, job: str, status: str, finished: datetime, source: str = "db") -> None:
    db.execute(
        "INSERT INTO backups (stack, source, job, kind, started_at, finished_at, status) "
        "VALUES ('shop', ?, ?, 'addon', ?, ?, ?)",
        (source, job, finished.isoformat(), finished.isoformat(), status),
    )


def test_first_seen_is_remembered_and_forgotten_when_unscheduled(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.db")
    assert first_seen(db, "shop", "db-nightly", NOW) == NOW
    assert first_seen(db, "shop", "db-nightly", NOW + timedelta(days=5)) == NOW
    stack = _stack()
    watch(db, stack, NOW + timedelta(days=1))
    keys = {str(r["key"]) for r in db.query("SELECT key FROM meta")}
    assert keys == {f"{FIRST_SEEN}shop:db-nightly", f"{FIRST_SEEN}shop:uploads"}
    del stack.backups["db-nightly"]
    watch(db, stack, NOW + timedelta(days=2))
    assert db.get_meta(f"{FIRST_SEEN}shop:db-nightly") is None
    assert first_seen(db, "shop", "uploads", NOW) == NOW + timedelta(days=1)


def test_statuses_from_records(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.db")
    stack = _stack()
    first_seen(db, "shop", "db-nightly", NOW - timedelta(days=10))
    _record(db, "db-nightly", "completed", NOW - timedelta(days=3))
    _record(db, "db-nightly", "failed", NOW - timedelta(days=1))
    _record(db, "", "completed", NOW - timedelta(hours=1))  # ad hoc: not the declared backup's
    _record(db, "db-nightly", "expiring", NOW - timedelta(hours=2))  # being deleted
    by_name = {s.backup: s for s in backup_statuses(db, stack, NOW)}
    nightly = by_name["db-nightly"]
    assert nightly.degraded and nightly.last_success == NOW - timedelta(days=3)
    assert nightly.source == "db" and nightly.kind == "addon"
    assert nightly.to_dict()["freshness"] == "degraded"
    assert nightly.to_dict()["intervalSeconds"] == 86400
    assert "no successful backup of db (db-nightly) since 2026-11-17T12:00Z" in (
        nightly.freshness.reason
    )
    assert by_name["db-manual"].freshness.state == UNSCHEDULED
    assert by_name["off"].freshness.state == UNSCHEDULED
    assert "disabled" in by_name["off"].freshness.reason
    # Seen for the first time now: never succeeded, but within its grace period.
    uploads = by_name["uploads"]
    assert uploads.freshness.state == OK and uploads.source == "web-uploads"
    assert uploads.watched_since == NOW
    assert degraded_reasons(list(by_name.values())) == [
        f"backup db-nightly: {nightly.freshness.reason}"
    ]
    _record(db, "db-nightly", "completed", NOW - timedelta(minutes=5))
    again = {s.backup: s for s in backup_statuses(db, stack, NOW)}
    assert again["db-nightly"].freshness.state == OK


def test_status_rows_for_the_cli(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    doc = {"version": 1, "stack": "shop", "addons": {"db": {"type": "postgresql"}}}
    (repo / "stack.yaml").write_text(json.dumps(doc))
    assert backup_rows(repo, tmp_path / "state", NOW) == []
    assert not (tmp_path / "state").exists(), "no backups declared: no database created"
    doc["backups"] = {"db-nightly": {"addon": "db", "schedule": "0 3 * * *"}}
    (repo / "stack.yaml").write_text(json.dumps(doc))
    [row] = backup_rows(repo, tmp_path / "state", NOW)
    assert row["kind"] == "backup" and row["sourceKind"] == "addon" and row["name"] == "db-nightly"
    assert row["freshness"] == OK and row["watchedSince"] == "2026-11-20T12:00:00+00:00"
    later = NOW + timedelta(days=2, minutes=1)
    [stale] = backup_rows(repo, tmp_path / "state", later)
    assert stale["freshness"] == DEGRADED
    text = backup_text([stale])
    assert "db-nightly" in text and "never" in text and stale["reason"] in text
