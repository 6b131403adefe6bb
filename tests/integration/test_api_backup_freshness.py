"""Backup freshness end to end: a real Daemon, its API over real HTTP, its real SQLite state
database and a real Redis add-on. Time passing is represented by records and a first-seen time
written into the state database as they would be days later; then a real backup through the
API brings everything back to ok: GET /backup-sources, /health, /system/doctor, /metrics and
`reconciler status` (text and --json) all agree."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.scheduler.backup_health import FIRST_SEEN
from reconciler.scheduler.freshness import short_time

from .support import (
    cli,
    describe,
    redis_backup_stack,
    redis_marks,
)
from .test_api_harness import World, start_world, wait_until

JOB = "cache-nightly"
DEGRADED_METRIC = "reconciler_backup_degraded"
LAST_METRIC = "reconciler_backup_last_success_timestamp_seconds"

pytestmark = redis_marks()


def stack_doc(stack: str) -> dict[str, Any]:
    declared = {"addon": "cache", "schedule": "0 3 * * *", "retention": 5}
    return redis_backup_stack(stack, {JOB: declared, "cache-on-demand": {"addon": "cache"}})


@dataclass
class Setup:
    world: World
    root: Path

    def get(self, path: str, token: str = "read") -> Any:
        answer = self.world.server.get(path, self.world.tokens[token])
        assert answer.status == 200, (path, answer.status, answer.text)
        return answer.json() if "json" in answer.headers.get("Content-Type", "") else answer.text

    def sources(self) -> dict[str, dict[str, Any]]:
        listed = self.get("/api/v1/backup-sources")
        return {row["backup"]: row for row in listed["data"]}

    def metrics(self) -> dict[str, float]:
        text = self.world.server.get("/metrics").text
        samples = (line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
        return {name: float(value) for name, value in samples}

    def labels(self) -> str:
        return f'{{backup="{JOB}",source="cache",stack="{self.world.stack}"}}'

    def status(self, *extra: str) -> str:
        result = cli("status", self.root / "repo", "--state-dir", self.root / "state", *extra)
        assert result.returncode == 0, describe(result)
        return result.stdout


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("api-freshness")
    for world in start_world(root, stack_doc):
        world.tokens["read"] = world.daemon.tokens.create("read", ["backups:read"])
        world.tokens["write"] = world.daemon.tokens.create("write", ["backups:write"])
        yield Setup(world, root)


def _old_record(setup: Setup, status: str, finished: datetime) -> None:
    at = finished.isoformat(timespec="milliseconds")
    setup.world.daemon.db.execute(
        "INSERT INTO backups (stack, source, job, kind, engine, version, started_at, "
        "finished_at, status, error) VALUES (?, 'cache', ?, 'addon', 'redis', '7', ?, ?, ?, ?)",
        (setup.world.stack, JOB, at, at, status, "" if status == "completed" else "dump failed"),
    )


def _real_backup(setup: Setup) -> dict[str, Any]:
    answer = setup.world.server.post("/api/v1/addons/cache/backup", setup.world.tokens["write"])
    assert answer.status == 202, answer.text
    backup_id = answer.json()["backupId"]

    def ended() -> dict[str, Any] | None:
        record: dict[str, Any] = setup.get(f"/api/v1/backups/{backup_id}")
        return None if record["status"] == "running" else record

    record = wait_until(ended, 120, f"backup {backup_id} to end")
    assert record is not None
    return record


def test_a_new_backup_is_ok_until_two_intervals_pass_without_success(setup: Setup) -> None:
    fresh = setup.sources()
    assert fresh[JOB]["freshness"] == "ok" and fresh[JOB]["lastSuccessAt"] is None
    assert fresh[JOB]["intervalSeconds"] == 86400 and fresh[JOB]["source"] == "cache"
    assert "no successful backup of cache (cache-nightly) yet" in fresh[JOB]["reason"]
    assert fresh["cache-on-demand"]["freshness"] == "unscheduled"
    assert setup.metrics()[DEGRADED_METRIC + setup.labels()] == 0
    health = setup.world.server.get("/health").json()
    assert health["status"] == "ok" and health["backups"] == {"declared": 2, "degraded": []}

    # Three days later: declared then, one success right after, and a failure yesterday.
    now = datetime.now(UTC)
    setup.world.daemon.db.set_meta(
        f"{FIRST_SEEN}{setup.world.stack}:{JOB}", (now - timedelta(days=3, hours=1)).isoformat()
    )
    succeeded = now - timedelta(days=3)
    _old_record(setup, "completed", succeeded)
    _old_record(setup, "failed", now - timedelta(days=1))

    row = setup.sources()[JOB]
    expected = (
        f"no successful backup of cache (cache-nightly) since {short_time(succeeded)}; "
        "expected one every 1d (degraded after 2d)"
    )
    assert row["freshness"] == "degraded" and row["reason"] == expected, row
    assert datetime.fromisoformat(row["lastSuccessAt"]) == succeeded.replace(microsecond=0)
    degraded = setup.get("/api/v1/backup-sources?freshness=degraded")["data"]
    assert [r["backup"] for r in degraded] == [JOB]

    metrics = setup.metrics()
    assert metrics[DEGRADED_METRIC + setup.labels()] == 1
    assert metrics[LAST_METRIC + setup.labels()] == pytest.approx(succeeded.timestamp(), abs=0.01)
    health = setup.world.server.get("/health").json()
    assert health["status"] == "degraded" and health["backups"]["degraded"] == [JOB]
    assert health["reason"] == f"backup {JOB}: {expected}"
    doctor = setup.get("/api/v1/system/doctor", "deploy")
    assert doctor["status"] == "degraded"
    assert doctor["backups"] == {"ok": False, "declared": 2, "degraded": [health["reason"]]}

    text = setup.status()
    assert f"{JOB:24} cache" in text and "degraded" in text and expected in text
    rows = {r["name"]: r for r in json.loads(setup.status("--json")) if r["kind"] == "backup"}
    assert rows[JOB]["freshness"] == "degraded" and rows[JOB]["reason"] == expected


def test_a_real_successful_backup_makes_it_ok_again(setup: Setup) -> None:
    # Degraded to begin with, whichever order the tests ran in.
    now = datetime.now(UTC)
    setup.world.daemon.db.set_meta(
        f"{FIRST_SEEN}{setup.world.stack}:{JOB}", (now - timedelta(days=5)).isoformat()
    )
    if setup.sources()[JOB]["lastSuccessAt"] is None:
        _old_record(setup, "completed", now - timedelta(days=4))
    assert setup.sources()[JOB]["freshness"] == "degraded"

    record = _real_backup(setup)
    assert record["status"] == "completed" and record["job"] == JOB, record

    row = setup.sources()[JOB]
    assert row["freshness"] == "ok", row
    finished = datetime.fromisoformat(record["finishedAt"])
    assert datetime.fromisoformat(row["lastSuccessAt"]) == finished.replace(microsecond=0)
    assert row["reason"].startswith(
        f"last successful backup of cache (cache-nightly) {short_time(finished)}"
    )
    metrics = setup.metrics()
    assert metrics[DEGRADED_METRIC + setup.labels()] == 0
    assert metrics[LAST_METRIC + setup.labels()] == pytest.approx(finished.timestamp(), abs=0.01)
    health = setup.world.server.get("/health").json()
    assert health["status"] == "ok" and health["reason"] is None
    assert setup.get("/api/v1/system/doctor", "deploy")["backups"]["ok"] is True
    rows = {r["name"]: r for r in json.loads(setup.status("--json")) if r["kind"] == "backup"}
    assert rows[JOB]["freshness"] == "ok"
    assert "degraded" not in setup.status()
