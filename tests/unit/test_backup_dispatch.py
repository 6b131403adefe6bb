"""JobRunner, the daemon's callable: jobs from the manifests on disk, runs, last-run lookups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.engine import Engine, EngineSettings
from reconciler.scheduler.dispatch import JobRunner
from reconciler.scheduler.jobs import BACKUP, PRUNE
from reconciler.store.db import Database

from .test_backup_service import FakePort


@pytest.fixture
def setup(tmp_path: Path) -> tuple[JobRunner, FakePort, Path]:
    repo = tmp_path / "repo"
    repo.mkdir()
    doc = {
        "version": 1,
        "stack": "shop",
        "addons": {"db": {"type": "mariadb"}},
        "apps": {"web": {"image": "web:1", "addons": ["db"]}},
        "backups": {"nightly": {"addon": "db", "schedule": "0 2 * * *", "verify": True}},
        "settings": {"prune": {"schedule": "30 3 * * *"}},
    }
    (repo / "stack.yaml").write_text(json.dumps(doc))
    port = FakePort(status={"shop-db": "running"})
    engine = Engine(port, settings=EngineSettings(state_dir=tmp_path / "state"))  # type: ignore[arg-type]
    runner = JobRunner(engine, Database(tmp_path / "state" / "state.db"), lambda: repo)
    return runner, port, repo


def test_specs_come_from_the_current_manifests(setup: tuple[JobRunner, FakePort, Path]) -> None:
    runner, _, _ = setup
    assert [(s.kind, s.name) for s in runner.specs()] == [(BACKUP, "nightly"), (PRUNE, "")]


def test_a_backup_job_runs_verifies_and_counts_as_the_last_run(
    setup: tuple[JobRunner, FakePort, Path],
) -> None:
    runner, port, _ = setup
    backup = next(s for s in runner.specs() if s.kind == BACKUP)
    assert runner.last_run(backup) is None
    runner.run(backup)
    record = runner.backups.log.find("shop")[0]
    assert record.status == "completed" and record.job == "nightly" and record.verified
    last = runner.last_run(backup)
    assert last is not None and last.tzinfo is not None
    # The throwaway copy: same image as the add-on, no network, no published port.
    copy = f"shop-db-verify-{record.id}"
    assert f"run {copy}" in port.calls
    spec = port.specs[copy]
    assert spec.network is None and spec.image == "mariadb:11.4" and spec.healthcheck
    assert spec.volumes[0].volume == f"{copy}-data"


def test_a_failing_job_is_logged_not_raised(
    setup: tuple[JobRunner, FakePort, Path], caplog: pytest.LogCaptureFixture
) -> None:
    runner, port, _ = setup
    port.status["shop-db"] = "exited"
    runner.run(next(s for s in runner.specs() if s.kind == BACKUP))
    assert "is not running" in caplog.text
    assert runner.backups.log.find("shop")[0].status == "failed"


def test_prune_records_its_run(setup: tuple[JobRunner, FakePort, Path]) -> None:
    runner, _, _ = setup
    prune = next(s for s in runner.specs() if s.kind == PRUNE)
    assert runner.last_run(prune) is None
    runner.run(prune)
    assert runner.last_run(prune) is not None
