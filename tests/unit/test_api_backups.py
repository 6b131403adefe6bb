"""Backups, restores and task runs in the API, without an engine: the route table's entries,
list filters, the restore body and its warning, work started in threads, the record watchers,
and the hooks the API uses in the backup service (the new record's id, a busy source)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from reconciler.api.background import Started, start_in_thread
from reconciler.api.errors import ApiError, error_middleware
from reconciler.api.idempotency import IdempotencyCache
from reconciler.api.listing import MAX_OFFSET, parse_page
from reconciler.api.monitor import BACKUPS, TASK_RUNS, RunWatch
from reconciler.api.openapi import document
from reconciler.api.routes import ROUTES
from reconciler.api.views_backups import _backup_page, _restore_request, overwrite_warning
from reconciler.backups.records import BackupLog, BackupRecord
from reconciler.backups.restore import RestorePlan, plan_restore, restore
from reconciler.backups.service import BackupService, SourceBusy, source_lock
from reconciler.backups.sources import addon_target, volume_target
from reconciler.daemon.events import Event, EventBus
from reconciler.manifests.models import Stack
from reconciler.scheduler.runs import TaskRunLog
from reconciler.state.errors import BackupError, ReconcilerError
from reconciler.store.db import Database

from .test_backup_service import FakePort, make_stack


def _route(method: str, path: str) -> Any:
    return next(r for r in ROUTES if r.method == method and r.path == path)


# --- the route table -----------------------------------------------------------------------------


def test_routes_scopes_triggers_and_bodies() -> None:
    expected = {
        ("GET", "/api/v1/backups"): ("backups:read", False),
        ("GET", "/api/v1/backups/{id}"): ("backups:read", False),
        ("GET", "/api/v1/addons/{name}/backups"): ("backups:read", False),
        ("POST", "/api/v1/addons/{name}/backup"): ("backups:write", True),
        ("POST", "/api/v1/backups/{id}/restore"): ("backups:restore", True),
        ("POST", "/api/v1/tasks/{name}/runs"): ("reconcile:trigger", True),
        ("GET", "/api/v1/tasks/{name}/runs"): ("apps:read", False),
    }
    for (method, path), (scope, trigger) in expected.items():
        route = _route(method, path)
        assert (route.scope, route.trigger) == (scope, trigger), path
        assert route.status == (202 if trigger else 200)
    assert _route("POST", "/api/v1/backups/{id}/restore").body == "RestoreRequest"
    spec = document(ROUTES)
    restore = spec["paths"]["/api/v1/backups/{id}/restore"]["post"]
    assert {"202", "400", "404", "409", "422", "429"} <= set(restore["responses"])
    assert restore["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RestoreRequest"
    }
    listed = spec["paths"]["/api/v1/backups"]["get"]["parameters"]
    assert {p["name"] for p in listed} >= {"status", "source", "addon", "verified", "sort"}
    events = next(p for p in spec["paths"]["/api/v1/events"]["get"]["parameters"])
    assert "restore" in events["schema"]["pattern"] and "task" in events["schema"]["pattern"]


# --- listing -------------------------------------------------------------------------------------


def _record(backup_id: int, source: str, **changes: Any) -> BackupRecord:
    fields: dict[str, Any] = {
        "id": backup_id, "stack": "shop", "source": source, "job": "", "kind": "addon",
        "engine": "redis", "version": "7", "path": f"/b/{backup_id}", "size": backup_id * 10,
        "sha256": "0" * 64, "compressed": True, "started_at": f"2026-01-0{backup_id}T00:00:00",
        "finished_at": None, "status": "completed", "error": "", "verified": None,
        "verify_detail": "",
    }  # fmt: skip
    fields.update(changes)
    return BackupRecord(**fields)


RECORDS = [
    _record(4, "cache", verified=True),
    _record(3, "web-uploads", kind="volume"),
    _record(2, "cache", status="failed", verified=None),
    _record(1, "db", verified=False),
]


def _page(query: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    response = _backup_page(make_mocked_request("GET", f"/x?{query}"), RECORDS, extra)
    assert isinstance(response.body, bytes)
    result: dict[str, Any] = json.loads(response.body)
    return result


def _ids(query: str, extra: dict[str, Any] | None = None) -> list[int]:
    return [row["id"] for row in _page(query, extra)["data"]]


def test_backup_filters_sort_and_pages() -> None:
    addon = {"addon": None}
    assert _ids("") == [4, 3, 2, 1]
    assert _ids("sort=size:asc") == [1, 2, 3, 4]
    assert _ids("sort=source:asc") == [4, 2, 1, 3]  # ties keep the newest first
    assert _ids("status=completed") == [4, 3, 1]
    assert _ids("verified=true") == [4]
    assert _ids("verified=false") == [1]
    assert _ids("verified=unknown") == [3, 2]
    assert _ids("kind=volume") == [3]
    assert _ids("source=cache&status=failed") == [2]
    assert _ids("addon=cache", addon) == [4, 2]
    assert _ids("addon=web-uploads", addon) == []  # a volume's source is not an add-on
    page = _page("limit=2&offset=1")
    assert [r["id"] for r in page["data"]] == [3, 2]
    assert page["pagination"] == {"total": 4, "limit": 2, "offset": 1, "hasMore": True}
    for bad in ("status=sleeping", "verified=yes", "sort=path:asc", "kind=app", "limit=0"):
        with pytest.raises(ApiError) as raised:
            _page(bad)
        assert raised.value.status == 400, bad


def test_offsets_beyond_what_sqlite_holds_are_a_400() -> None:
    assert parse_page({"offset": str(MAX_OFFSET)}) == (20, MAX_OFFSET)
    with pytest.raises(ApiError) as raised:
        parse_page({"offset": str(MAX_OFFSET + 1)})
    assert raised.value.status == 400


def test_only_answers_that_started_something_are_replayed() -> None:
    cache = IdempotencyCache()
    key = cache.key("token:a", "POST", "/api/v1/backups/1/restore", "k")
    for refusal in (400, 404, 409, 422, 429, 500):
        assert cache.begin(key, "body-1") is None
        cache.finish(key, "body-1", refusal, b"{}", "application/json")
        # Not kept: the same key may come back with a corrected body.
        assert cache.begin(key, "body-2") is None
        cache.abandon(key)
    assert cache.begin(key, "body-3") is None
    cache.finish(key, "body-3", 202, b'{"backupId": 1}', "application/json")
    stored = cache.begin(key, "body-3")
    assert stored is not None and stored.body == b'{"backupId": 1}'


# --- the restore body and its warning ------------------------------------------------------------


async def _parse(body: bytes) -> tuple[int, Any]:
    async def handler(request: web.Request) -> web.Response:
        acknowledged, to = await _restore_request(request)
        return web.json_response({"acknowledged": acknowledged, "to": to})

    app = web.Application(middlewares=[error_middleware])
    app.router.add_post("/", handler)
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/", data=body)
        return response.status, await response.json()


@pytest.mark.parametrize(
    ("body", "status", "answer"),
    [
        (b"", 200, {"acknowledged": False, "to": None}),
        (b"  ", 200, {"acknowledged": False, "to": None}),
        (b"{}", 200, {"acknowledged": False, "to": None}),
        (b'{"acknowledgeDataOverwrite": true}', 200, {"acknowledged": True, "to": None}),
        (b'{"acknowledgeDataOverwrite": true, "to": "b"}', 200, {"acknowledged": True, "to": "b"}),
        (
            b'{"acknowledgeDataOverwrite": true, "to": null}',
            200,
            {"acknowledged": True, "to": None},
        ),
        (b'{"acknowledgeDataOverwrite": 1}', 400, None),
        (b'{"acknowledgeDataOverwrite": "true"}', 400, None),
        (b'{"to": ""}', 400, None),
        (b'{"to": ["a"]}', 400, None),
        (b'{"force": true}', 400, None),
        (b"[]", 400, None),
        (b"true", 400, None),
        (b"{nope", 400, None),
        (b"\xff\xfe", 400, None),
    ],
)
def test_restore_request_body(body: bytes, status: int, answer: Any) -> None:
    got_status, got = asyncio.run(_parse(body))
    assert got_status == status, got
    if answer is not None:
        assert got == answer
    else:
        assert got["error"]["status"] == 400


def redis_stack() -> Stack:
    return Stack.model_validate(
        {
            "version": 1,
            "stack": "shop",
            "addons": {"cache": {"type": "redis"}, "db": {"type": "postgresql"}},
            "apps": {
                "web": {"image": "web:1", "addons": ["cache", "db"], "volumes": {"up": "/u"}},
                "worker": {"image": "web:1", "addons": ["cache"]},
            },
        }
    )


def test_the_warning_says_what_is_overwritten_and_stopped() -> None:
    stack = redis_stack()
    record = _record(7, "cache", version="7.2")
    message = overwrite_warning(RestorePlan(record, addon_target(stack, "cache")))
    assert "all data of add-on cache (redis 7.2; container shop-cache, volume shop-cache-data)" in (
        message
    )
    assert "cache itself is stopped while its data file is replaced" in message
    assert "started again afterwards: web, worker." in message
    assert '{"acknowledgeDataOverwrite": true}' in message
    db = overwrite_warning(
        RestorePlan(_record(8, "db", engine="postgresql"), addon_target(stack, "db"))
    )
    assert "add-on db" in db and "itself is stopped" not in db and "afterwards: web." in db
    volume = overwrite_warning(
        RestorePlan(_record(9, "web-up", kind="volume"), volume_target(stack, "web", "up"))
    )
    assert "the files in volume shop-web-up are replaced by backup 9" in volume
    assert "afterwards: web." in volume


# --- work in threads -----------------------------------------------------------------------------


def _run(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coro

    return asyncio.run(main())


def test_start_in_thread_answers_with_the_started_id_while_the_work_goes_on() -> None:
    release = threading.Event()
    finished = threading.Event()

    def work(started: Started) -> None:
        started(42)
        started(43)  # only the first one counts
        release.wait(5)
        finished.set()

    assert _run(start_in_thread("t", work)) == 42
    assert not finished.is_set()
    release.set()
    assert finished.wait(5)


def test_start_in_thread_raises_what_failed_before_the_start() -> None:
    def busy(started: Started) -> None:
        raise SourceBusy("a backup or restore of cache is already running")

    with pytest.raises(SourceBusy):
        _run(start_in_thread("t", busy))

    def crashes(started: Started) -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        _run(start_in_thread("t", crashes))

    def quiet(started: Started) -> None:
        return None

    with pytest.raises(Exception, match="ended before it started"):
        _run(start_in_thread("t", quiet))


def test_failures_after_the_start_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    done = threading.Event()

    def work(started: Started) -> None:
        started(1)
        try:
            raise ReconcilerError("dump failed: https://user:s3cret@example.com/x")
        finally:
            done.set()

    caplog.set_level(logging.WARNING, "reconciler.api")
    assert _run(start_in_thread("backup-x", work)) == 1
    assert done.wait(5)
    for _ in range(50):
        if caplog.records:
            break
        threading.Event().wait(0.02)
    assert "backup-x failed" in caplog.text and "s3cret" not in caplog.text


# --- the record watchers -------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "state.db")
    yield database
    database.close()


def _recorder() -> tuple[EventBus, list[Event]]:
    bus = EventBus()
    seen: list[Event] = []
    original = bus.publish

    def publish(type_: str, data: Any = None) -> Event:
        event = original(type_, data)
        seen.append(event)
        return event

    bus.publish = publish  # type: ignore[method-assign]
    return bus, seen


def test_backup_watch_announces_runs_whoever_started_them(db: Database) -> None:
    log = BackupLog(db)
    old = log.start("shop", "cache", "", "addon", "redis", "7")
    log.complete(old, 1, "a" * 64)
    still = log.start("shop", "db", "", "addon", "postgresql", "16")
    bus, seen = _recorder()
    watch = RunWatch(bus, BACKUPS)
    watch.poll(db)  # the first look: history is not news
    assert seen == []

    fresh = log.start("shop", "cache", "nightly", "addon", "redis", "7")
    watch.poll(db)
    log.complete(fresh, 10, "b" * 64)
    log.fail(still, "the dump command exited with 1")
    quick = log.start("shop", "cache", "", "addon", "redis", "7")
    log.fail(quick, "container shop-cache is not running")
    gone = log.start("shop", "cache", "", "addon", "redis", "7")
    watch.poll(db)
    log.delete(gone)
    watch.poll(db)
    watch.poll(db)

    got = [(e.type, e.data["backupId"]) for e in seen]
    assert got == [
        ("backup.started", fresh),
        ("backup.failed", still),  # running at the first look: its end is news
        ("backup.finished", fresh),
        ("backup.started", quick),  # started and failed between two looks: both, in order
        ("backup.failed", quick),
        ("backup.started", gone),  # deleted while running: nothing more, and not kept
    ]
    finished = next(e for e in seen if e.type == "backup.finished")
    assert finished.data["sha256"] == "b" * 64 and finished.data["job"] == "nightly"
    assert "path" not in finished.data


def test_task_watch(db: Database) -> None:
    runs = TaskRunLog(db)
    bus, seen = _recorder()
    watch = RunWatch(bus, TASK_RUNS)
    watch.poll(db)
    first = runs.start("shop", "report", "api", 1)
    watch.poll(db)
    runs.finish(first, "failed", 2, "oops")
    second = runs.start("shop", "report", "api", 2)
    runs.finish(second, "succeeded", 0, "ok")
    watch.poll(db)
    assert [(e.type, e.data["runId"]) for e in seen] == [
        ("task.started", first),
        ("task.failed", first),
        ("task.started", second),
        ("task.finished", second),
    ]
    assert seen[-1].data["attempt"] == 2 and "logTail" not in seen[-1].data


# --- hooks in the backup service -----------------------------------------------------------------


@pytest.fixture
def service(tmp_path: Path) -> BackupService:
    port = FakePort(status={"shop-db": "running", "shop-sql": "running"})
    return BackupService(port, Database(tmp_path / "state.db"), tmp_path)  # type: ignore[arg-type]


def test_started_gets_the_running_records_id(service: BackupService) -> None:
    seen: list[tuple[int, str]] = []

    def started(backup_id: int) -> None:
        record = service.log.get(backup_id)
        assert record is not None
        seen.append((backup_id, record.status))

    record = service.backup(make_stack(), "sql", started=started)
    assert seen == [(record.id, "running")]


def test_a_busy_source_is_its_own_error_and_leaves_no_record(service: BackupService) -> None:
    stack = make_stack()
    with source_lock(service.state_dir, addon_target(stack, "sql")):
        with pytest.raises(SourceBusy, match="already running"):
            service.backup(stack, "sql")
        assert service.backup(stack, "db").status == "completed"  # another source
    assert [r.source for r in service.log.find()] == ["db"]
    assert issubclass(SourceBusy, BackupError)


def test_restore_with_the_lock_already_held(
    service: BackupService, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RECONCILER_LOCK_DIR", str(tmp_path))
    stack = make_stack()
    record = service.backup(stack, "db")
    plan = plan_restore(service, stack, record.id)
    with source_lock(service.state_dir, plan.target):
        with pytest.raises(SourceBusy):
            restore(service, plan)
        restore(service, plan, source_locked=True)
    port: Any = service.port
    assert "exec_stdin shop-db" in port.calls
