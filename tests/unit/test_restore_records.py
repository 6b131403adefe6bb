"""Restore records against the fake DockerPort: written at the start, completed or failed (with
the masked reason), interrupted ones settled by recover(), the API's work and route table."""

from __future__ import annotations

import asyncio
import getpass
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from reconciler.api.background import restore_work, start_in_thread
from reconciler.api.openapi import document
from reconciler.api.routes import ROUTES
from reconciler.backups.records import COMPLETED, FAILED, RUNNING
from reconciler.backups.restore import plan_restore, restore
from reconciler.backups.restore_records import INTERRUPTED, Origin
from reconciler.backups.service import BackupService, SourceBusy, source_lock
from reconciler.daemon.events import EventBus
from reconciler.observed.port import ExecResult
from reconciler.state.errors import BackupError
from reconciler.store.db import MIGRATIONS, Database

from .test_backup_service import FakePort, make_stack

DEAD_PID = 2**22 + 12345  # above the kernel's pid_max: never a live process


@pytest.fixture
def port() -> FakePort:
    return FakePort(status={"shop-db": "running", "shop-sql": "running"})


@pytest.fixture
def service(tmp_path: Path, port: FakePort, monkeypatch: pytest.MonkeyPatch) -> BackupService:
    monkeypatch.setenv("RECONCILER_LOCK_DIR", str(tmp_path))
    return BackupService(port, Database(tmp_path / "state.db"), tmp_path)  # type: ignore[arg-type]


def test_a_restore_is_recorded_running_then_completed(service: BackupService) -> None:
    backup = service.backup(make_stack(), "db")
    seen: list[str] = []

    def started(restore_id: int) -> None:
        record = service.restores.get(restore_id)
        assert record is not None
        seen.append(record.status)

    plan = plan_restore(service, make_stack(), backup.id)
    restore_id = restore(service, plan, started=started)
    assert seen == [RUNNING]
    record = service.restores.get(restore_id)
    assert record is not None and record.status == COMPLETED and record.error == ""
    assert (record.backup_id, record.stack, record.source, record.from_source) == (
        backup.id, "shop", "db", "db",
    )  # fmt: skip
    assert (record.kind, record.trigger, record.actor, record.peer) == (
        "addon", "cli", getpass.getuser(), "",
    )  # fmt: skip
    assert record.finished_at is not None and record.seconds is not None and record.seconds >= 0
    shown = record.to_dict()
    assert shown["backupId"] == backup.id and shown["fromSource"] == "db"
    assert shown["seconds"] == record.seconds


def test_the_origin_and_another_target_are_recorded(service: BackupService) -> None:
    stack = make_stack().model_copy(deep=True)
    stack.addons["db2"] = stack.addons["db"]
    port: Any = service.port
    port.status["shop-db2"] = "running"
    backup = service.backup(stack, "db")
    plan = plan_restore(service, stack, backup.id, to="db2")
    restore_id = restore(service, plan, origin=Origin("api", "ci", "127.0.0.1"))
    record = service.restores.get(restore_id)
    assert record is not None
    assert (record.source, record.from_source, record.trigger, record.actor, record.peer) == (
        "db2", "db", "api", "ci", "127.0.0.1",
    )  # fmt: skip
    assert [r.id for r in service.restores.find("shop", source="db2")] == [restore_id]
    assert service.restores.find("other") == []


def test_a_checksum_mismatch_is_a_failed_record_with_the_reason_chained(
    service: BackupService,
) -> None:
    backup = service.backup(make_stack(), "db")
    with open(backup.path, "r+b") as handle:
        handle.write(b"X")
    plan = plan_restore(service, make_stack(), backup.id)
    with pytest.raises(BackupError, match="checksum mismatch") as raised:
        restore(service, plan)
    [record] = service.restores.find()
    assert record.status == FAILED and "checksum mismatch" in record.error
    assert record.finished_at is not None
    assert str(raised.value).startswith(f"restore {record.id} of backup {backup.id} into shop-db")
    assert isinstance(raised.value.__cause__, BackupError)


class FailingRestorePort(FakePort):
    """The restore command fails and prints what it was given (a password, say)."""

    secret: str = ""

    def exec_stdin(
        self, container: str, command: Sequence[str], source: Iterable[bytes]
    ) -> ExecResult:
        for _ in source:
            pass
        return ExecResult(1, f"FATAL: password authentication failed: {self.secret}")


def test_no_password_in_a_failed_restores_record(tmp_path: Path) -> None:
    port = FailingRestorePort(status={"shop-db": "running", "shop-sql": "running"})
    service = BackupService(port, Database(tmp_path / "state.db"), tmp_path)  # type: ignore[arg-type]
    port.secret = service.credentials.credentials("shop", "db", "app", "app").password
    backup = service.backup(make_stack(), "db")
    with pytest.raises(BackupError) as raised:
        restore(service, plan_restore(service, make_stack(), backup.id))
    [record] = service.restores.find()
    assert record.status == FAILED and "password authentication failed" in record.error
    assert port.secret not in record.error and "***" in record.error
    assert port.secret not in str(raised.value)


def test_a_busy_source_leaves_no_record(service: BackupService) -> None:
    backup = service.backup(make_stack(), "db")
    plan = plan_restore(service, make_stack(), backup.id)
    with source_lock(service.state_dir, plan.target), pytest.raises(SourceBusy):
        restore(service, plan)
    assert service.restores.find() == []


def test_an_interrupt_is_recorded_and_reraised(service: BackupService, port: FakePort) -> None:
    backup = service.backup(make_stack(), "db")

    def interrupted(container: str, command: Sequence[str], source: Iterable[bytes]) -> ExecResult:
        raise KeyboardInterrupt

    port.exec_stdin = interrupted  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        restore(service, plan_restore(service, make_stack(), backup.id))
    [record] = service.restores.find()
    assert record.status == FAILED and record.error == "interrupted"


def test_recover_fails_restores_whose_process_died(service: BackupService) -> None:
    backup = service.backup(make_stack(), "db")
    dead = service.restores.start(backup.id, "shop", "db", "db", "addon", Origin("cli"))
    service.restores.db.execute("UPDATE restores SET pid = ? WHERE id = ?", (DEAD_PID, dead))
    live = service.restores.start(backup.id, "shop", "db", "db", "addon", Origin("api", "ci"))
    messages: list[str] = []
    service.report = messages.append
    service.recover()
    record = service.restores.get(dead)
    assert record is not None and record.status == FAILED and record.error == INTERRUPTED
    assert record.finished_at is not None
    assert messages == [
        f"restore {dead} (backup {backup.id} into db) was interrupted; marked failed"
    ]
    still = service.restores.get(live)
    assert still is not None and still.status == RUNNING, "a live process's restore goes on"
    service.recover()
    assert len(messages) == 1, "settled once"


def test_the_apis_work_answers_with_the_restore_id_and_announces_it(
    service: BackupService,
) -> None:
    backup = service.backup(make_stack(), "db")
    plan = plan_restore(service, make_stack(), backup.id)
    bus = EventBus()
    done = threading.Event()  # set in the worker thread once the restore has ended

    async def main() -> int:
        work = restore_work(service, plan, bus, done.set, Origin("api", "ci", "10.0.0.9"))
        return await start_in_thread("restore-t", work)

    restore_id = asyncio.run(main())
    assert done.wait(5)
    for _ in range(250):  # restore.finished is published just after `done`
        if len(bus.recent()) == 2:
            break
        time.sleep(0.02)
    assert [e.type for e in bus.recent()] == ["restore.started", "restore.finished"]
    assert all(e.data["restoreId"] == restore_id for e in bus.recent())
    record = service.restores.get(restore_id)
    assert record is not None and record.status == COMPLETED
    assert (record.trigger, record.actor, record.peer) == ("api", "ci", "10.0.0.9")


def test_the_restores_route_and_its_schemas() -> None:
    route = next(r for r in ROUTES if r.path == "/api/v1/restores")
    assert (route.method, route.scope, route.trigger, route.response) == (
        "GET", "backups:read", False, "RestoreList",
    )  # fmt: skip
    spec = document(ROUTES)
    params = {p["name"] for p in spec["paths"]["/api/v1/restores"]["get"]["parameters"]}
    assert params >= {"limit", "offset", "sort", "status", "trigger", "source", "backupId"}
    schemas = spec["components"]["schemas"]
    assert "restoreId" in schemas["RestoreAccepted"]["required"]
    assert set(schemas["Restore"]["properties"]) >= {
        "backupId", "source", "fromSource", "trigger", "actor", "peer", "startedAt",
        "finishedAt", "seconds", "status", "error",
    }  # fmt: skip


def test_a_version_2_database_gains_the_restores_table(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:2]:
        conn.executescript(script)
    conn.execute(
        "INSERT INTO backups (stack, source, kind, started_at, status) "
        "VALUES ('shop', 'db', 'addon', 'x', 'completed')"
    )
    conn.execute("PRAGMA user_version=2")
    conn.commit()
    conn.close()
    db = Database(path)
    assert db.query("PRAGMA user_version")[0][0] == len(MIGRATIONS)
    assert len(db.query("SELECT * FROM backups")) == 1
    assert db.query("SELECT count(*) FROM restores")[0][0] == 0
