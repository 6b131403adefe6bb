"""Backups, restores and task runs through the API over real HTTP, against a real Daemon, the
real engine and real Redis add-ons: back up and poll the record, 409 while the source is busy,
422 before a restore that was not acknowledged, a restore that really brings the data back,
restores listed with who asked and how they ended, and task runs that are recorded. Data is
written and read with `docker exec` inside the containers; the API is reached on 127.0.0.1
only."""

from __future__ import annotations

import hashlib
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.api.ratelimit import RateLimiter
from reconciler.backups.service import source_lock
from reconciler.backups.sources import addon_target
from reconciler.desired.load import load_manifests

from .support import (
    BUSYBOX_1,
    REDIS_REPOSITORY,
    api,
    engine_skip_reason,
    inspect,
    missing_image_reason,
)
from .test_api_harness import Answer, World, start_world, wait_until

REDIS = 'redis-cli --no-auth-warning -a "$REDIS_PASSWORD"'
HOLD = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
#: Random, so neither RDB nor gzip shrink it: the dump takes long enough to collide with.
BIG_BYTES = 48 * 1024 * 1024
ACKNOWLEDGE = "acknowledgeDataOverwrite"


pytestmark = [pytest.mark.docker]
if reason := engine_skip_reason() or missing_image_reason(f"{REDIS_REPOSITORY}:7"):
    pytestmark.append(pytest.mark.skip(reason=reason))


def stack_doc(stack: str) -> dict[str, Any]:
    redis = {"type": "redis", "version": "7", "tier": "starter"}
    return {
        "version": 1,
        "stack": stack,
        "settings": {"images": {"redis": REDIS_REPOSITORY}, "helperImage": BUSYBOX_1},
        "addons": {"cache": redis, "spare": redis},
        "apps": {"web": {"image": BUSYBOX_1, "command": HOLD, "addons": ["cache"]}},
        "backups": {
            "cache-nightly": {
                "addon": "cache", "schedule": "0 3 * * *", "retention": 10, "verify": True,
            },
        },
        "tasks": {
            "hello": {"app": "web", "command": ["sh", "-c", "echo hello from a task; env"]},
            "slow": {"app": "web", "command": ["sleep", "3"]},
            "broken": {"app": "web", "command": ["sh", "-c", "echo oops; exit 3"]},
        },
    }  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    for world in start_world(tmp_path_factory.mktemp("api-backups"), stack_doc):
        for name, scopes in {
            "read": ["backups:read"],
            "write": ["backups:write", "backups:read"],
            "restore": ["backups:restore"],
        }.items():
            world.tokens[name] = world.daemon.tokens.create(name, scopes)
        # These tests trigger more than the default 10 a minute; one test checks the limit.
        world.server.state.triggers = RateLimiter(600, 100)
        yield world


# --- helpers -------------------------------------------------------------------------------------


def post_json(world: World, path: str, token: str, body: Any, raw: bytes | None = None) -> Answer:
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{world.server.port}{path}",
        data=data,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as e:
        return Answer(e.code, dict(e.headers), e.read())


def sh(container: str, script: str) -> str:
    """Run a shell snippet in a container (its own env holds the credentials)."""
    created = api().exec_create(container, ["sh", "-c", script])
    output = str(api().exec_start(created["Id"]).decode())
    code = api().exec_inspect(created["Id"])["ExitCode"]
    assert code == 0, f"{script!r} in {container} exited {code}: {output}"
    return output.strip()


def password(world: World, addon: str = "cache") -> str:
    pairs = (item.split("=", 1) for item in inspect(f"{world.stack}-{addon}")["Config"]["Env"])
    value = str({key: value for key, value in pairs}["REDIS_PASSWORD"])
    assert len(value) >= 8
    return value


def backup_now(world: World, addon: str = "cache") -> int:
    answer = world.server.post(f"/api/v1/addons/{addon}/backup", world.tokens["write"])
    assert answer.status == 202, answer.text
    body = answer.json()
    assert body["status"] == "in_progress" and isinstance(body["backupId"], int)
    return int(body["backupId"])


def settled(world: World, backup_id: int, timeout: float = 120) -> dict[str, Any]:
    """The backup's record once it has ended and, where declared, been verified."""

    def done() -> dict[str, Any] | None:
        answer = world.server.get(f"/api/v1/backups/{backup_id}", world.tokens["read"])
        assert answer.status == 200, answer.text
        record: dict[str, Any] = answer.json()
        if record["status"] == "running":
            return None
        if record["status"] == "completed" and record["job"] and record["verified"] is None:
            return None  # verification runs after the dump
        return record

    record = wait_until(done, timeout, f"backup {backup_id} to settle")
    assert record is not None
    return record


def redis_get(world: World, key: str, addon: str = "cache") -> str:
    return sh(f"{world.stack}-{addon}", f"{REDIS} GET {key}")


def audit(world: World) -> list[dict[str, Any]]:
    answer = world.server.get("/api/v1/audit-events?limit=100", world.tokens["admin"])
    return list(answer.json()["data"])


# --- backups -------------------------------------------------------------------------------------


def test_backup_through_the_api_is_recorded_checksummed_verified_and_announced(
    world: World,
) -> None:
    server = world.server
    sh(f"{world.stack}-cache", f"{REDIS} SET greeting hello")
    events = server.sse("/api/v1/events?types=backup", world.tokens["deploy"])
    try:
        started = time.monotonic()
        backup_id = backup_now(world)
        answered = time.monotonic() - started
        record = settled(world, backup_id)
        got = events.next_events(
            lambda evs: any(e["event"] in ("backup.finished", "backup.failed") for e in evs)
        )
    finally:
        events.close()
    assert answered < 5, "the trigger answers while the backup runs"
    assert record["status"] == "completed", record
    assert record["source"] == "cache" and record["kind"] == "addon"
    assert record["job"] == "cache-nightly" and record["engine"] == "redis"
    assert record["verified"] is True, record
    path = Path(record["path"])
    assert record["size"] == path.stat().st_size > 0
    assert re.fullmatch(r"[0-9a-f]{64}", record["sha256"])
    assert hashlib.sha256(path.read_bytes()).hexdigest() == record["sha256"]
    # Announced on the event bus, whoever started it: started, then finished.
    mine = [e for e in got if e["data"]["data"].get("backupId") == backup_id]
    assert [e["event"] for e in mine] == ["backup.started", "backup.finished"], got
    assert mine[1]["data"]["data"]["sha256"] == record["sha256"]
    # Audited with who asked and from where.
    entry = next(e for e in audit(world) if e["action"] == "addon.backup")
    assert entry["actor"] == "write" and entry["source"] == "127.0.0.1"
    assert str(backup_id) in entry["detail"]


def test_a_repeated_idempotency_key_replays_the_answer_and_backs_up_once(world: World) -> None:
    server, token = world.server, world.tokens["write"]
    count = server.get("/api/v1/backups", token).json()["pagination"]["total"]
    first = server.post("/api/v1/addons/cache/backup", token, Idempotency_Key="nightly-42")
    again = server.post("/api/v1/addons/cache/backup", token, Idempotency_Key="nightly-42")
    assert first.status == again.status == 202 and first.body == again.body
    assert again.headers.get("Idempotent-Replayed") == "true"
    settled(world, first.json()["backupId"])
    assert server.get("/api/v1/backups", token).json()["pagination"]["total"] == count + 1


def test_backup_lists_filters_sort_and_pagination(world: World) -> None:
    server, token = world.server, world.tokens["read"]
    first = settled(world, backup_now(world))
    second = settled(world, backup_now(world))
    listed = server.get("/api/v1/backups?limit=1", token).json()
    assert listed["data"][0]["id"] == second["id"]  # newest first
    assert listed["pagination"]["limit"] == 1 and listed["pagination"]["hasMore"] is True
    total = listed["pagination"]["total"]
    assert total >= 2
    ids = [
        b["id"] for b in server.get("/api/v1/backups?sort=id:asc&limit=100", token).json()["data"]
    ]
    assert ids == sorted(ids) and {first["id"], second["id"]} <= set(ids)
    query = "status=completed&addon=cache&verified=true&kind=addon&source=cache"
    filtered = server.get(f"/api/v1/backups?{query}&limit=100", token).json()["data"]
    assert {first["id"], second["id"]} <= {b["id"] for b in filtered}
    assert all(b["status"] == "completed" and b["verified"] is True for b in filtered)
    assert server.get("/api/v1/backups?addon=spare", token).json()["pagination"]["total"] == 0
    assert server.get("/api/v1/backups?verified=false", token).json()["data"] == []
    by_addon = server.get("/api/v1/addons/cache/backups?limit=100", token).json()
    assert by_addon["pagination"]["total"] == total
    assert server.get("/api/v1/addons/spare/backups", token).json()["data"] == []
    offset = server.get("/api/v1/addons/cache/backups?limit=1&offset=1", token).json()
    assert offset["data"][0]["id"] == by_addon["data"][1]["id"]
    by_size = server.get("/api/v1/backups?sort=size:desc&limit=100", token).json()["data"]
    assert [b["size"] for b in by_size] == sorted((b["size"] for b in by_size), reverse=True)
    # Errors: envelopes with the right statuses.
    for path, status in (
        ("/api/v1/backups/999999", 404),
        ("/api/v1/backups/abc", 404),
        ("/api/v1/addons/nope/backups", 404),
        ("/api/v1/backups?status=sleeping", 400),
        ("/api/v1/backups?sort=password:asc", 400),
        ("/api/v1/backups?stauts=completed", 400),
        ("/api/v1/backups?limit=1000", 400),
    ):
        answer = server.get(path, token)
        assert answer.status == status, (path, answer.text)
        assert answer.json()["error"]["status"] == status
    # Scopes: reading needs backups:read, triggering backups:write.
    assert server.get("/api/v1/backups").status == 401
    assert server.get("/api/v1/backups", world.tokens["addons"]).status == 403
    assert server.post("/api/v1/addons/cache/backup", token).status == 403
    assert server.post("/api/v1/addons/nope/backup", world.tokens["write"]).status == 404


def test_no_password_in_any_backup_answer(world: World) -> None:
    secret = password(world)
    server = world.server
    backup_id = backup_now(world)
    settled(world, backup_id)
    answers = [
        server.get("/api/v1/backups?limit=100", world.tokens["read"]),
        server.get(f"/api/v1/backups/{backup_id}", world.tokens["read"]),
        server.get("/api/v1/addons/cache/backups?limit=100", world.tokens["read"]),
        server.get("/api/v1/audit-events?limit=100", world.tokens["admin"]),
        server.get("/api/v1/system/doctor", world.tokens["deploy"]),
    ]
    for answer in answers:
        assert answer.status == 200
        assert secret not in answer.text
    # Nor in the events kept for replay.
    stream = server.sse("/api/v1/events?after=0", world.tokens["deploy"])
    try:
        replayed = stream.next_events(lambda evs: False, timeout=2)
    finally:
        stream.close()
    assert any(e["event"].startswith("backup.") for e in replayed)
    assert secret not in json.dumps(replayed)


def test_a_second_backup_while_one_runs_is_a_conflict(world: World) -> None:
    server, container = world.server, f"{world.stack}-cache"
    sh(container, f"head -c {BIG_BYTES} /dev/urandom | {REDIS} -x SET big > /dev/null")
    listed = server.get("/api/v1/addons/cache/backups?status=completed", world.tokens["read"])
    earlier = listed.json()["data"][0]["id"]
    before = listed.json()["pagination"]["total"]
    try:
        first = backup_now(world)
        second = server.post("/api/v1/addons/cache/backup", world.tokens["write"])
        restore = post_json(
            world, f"/api/v1/backups/{earlier}/restore", world.tokens["restore"],
            {"acknowledgeDataOverwrite": True},
        )  # fmt: skip
        record = settled(world, first)
    finally:
        sh(container, f"{REDIS} DEL big")
    assert second.status == 409, second.text
    assert second.json()["error"] == {
        "code": "conflict",
        "message": "a backup or restore of cache is already running",
        "status": 409,
    }
    assert restore.status == 409, restore.text
    assert record["status"] == "completed" and record["size"] > BIG_BYTES // 2
    after = server.get("/api/v1/addons/cache/backups?status=completed", world.tokens["read"])
    assert after.json()["pagination"]["total"] == before + 1, "a refusal leaves no record"


def test_a_backup_by_another_process_holding_the_source_is_a_conflict(world: World) -> None:
    """The CLI (or the scheduler) holds the same per-source lock across processes."""
    stack = load_manifests(world.daemon.mirror.manifest_dir).stack
    target = addon_target(stack, "cache")
    with source_lock(world.daemon.settings.state_dir, target):
        answer = world.server.post("/api/v1/addons/cache/backup", world.tokens["write"])
        # Another add-on has its own lock.
        other = world.server.post("/api/v1/addons/spare/backup", world.tokens["write"])
    assert answer.status == 409 and "already running" in answer.json()["error"]["message"]
    assert other.status == 202
    assert settled(world, int(other.json()["backupId"]))["status"] == "completed"


def test_backup_triggers_are_rate_limited(world: World) -> None:
    state = world.server.state
    saved, state.triggers = state.triggers, RateLimiter(6, 1)
    try:
        # Refused (404) triggers spend the bucket too: the limit comes first.
        assert world.server.post("/api/v1/addons/nope/backup", world.tokens["write"]).status == 404
        limited = world.server.post("/api/v1/addons/cache/backup", world.tokens["write"])
        restore = post_json(world, "/api/v1/backups/1/restore", world.tokens["restore"], {})
    finally:
        state.triggers = saved
    assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
    assert restore.status == 422, "another token has its own bucket"


# --- restores ------------------------------------------------------------------------------------


def test_restore_needs_an_acknowledgement_then_brings_the_data_back(world: World) -> None:
    server, container = world.server, f"{world.stack}-cache"
    sh(container, f"{REDIS} SET greeting original")
    backup_id = backup_now(world)
    assert settled(world, backup_id)["status"] == "completed"
    sh(container, f"{REDIS} SET greeting changed")
    path = f"/api/v1/backups/{backup_id}/restore"

    for body in (None, {}, {"acknowledgeDataOverwrite": False}):
        raw = b"" if body is None else None
        refused = post_json(world, path, world.tokens["restore"], body, raw=raw)
        assert refused.status == 422, refused.text
        error = refused.json()["error"]
        assert error["code"] == "acknowledgement_required"
        message = error["message"]
        assert "add-on cache" in message and f"volume {world.stack}-cache-data" in message
        assert "stopped during the restore and started again afterwards: web" in message
        assert "acknowledgeDataOverwrite" in message
    assert redis_get(world, "greeting") == "changed", "a refused restore changes nothing"

    web_before = inspect(f"{world.stack}-web-1")["State"]["StartedAt"]
    events = server.sse("/api/v1/events?types=restore", world.tokens["deploy"])
    try:
        answer = post_json(world, path, world.tokens["restore"], {"acknowledgeDataOverwrite": True})
        assert answer.status == 202, answer.text
        got = events.next_events(
            lambda evs: any(e["event"] in ("restore.finished", "restore.failed") for e in evs),
            timeout=120,
        )
    finally:
        events.close()
    body = answer.json()
    assert body["status"] == "in_progress" and body["backupId"] == backup_id
    assert body["addon"] == "cache" and body["stoppedApps"] == ["web"]
    assert [e["event"] for e in got] == ["restore.started", "restore.finished"], got
    assert all(e["data"]["data"]["restoreId"] == body["restoreId"] for e in got)
    assert redis_get(world, "greeting") == "original"
    web = inspect(f"{world.stack}-web-1")["State"]
    assert web["Running"] and web["StartedAt"] > web_before, "web was stopped and started"
    entry = next(e for e in audit(world) if e["action"] == "backup.restore")
    assert entry["actor"] == "restore" and str(backup_id) in entry["detail"]
    assert f"restore {body['restoreId']} " in entry["detail"]
    # Recorded, with who asked and through what; the refused attempts never began.
    listed = server.get(f"/api/v1/restores?backupId={backup_id}", world.tokens["read"]).json()
    assert listed["pagination"]["total"] == 1, listed
    [record] = listed["data"]
    assert record["id"] == body["restoreId"] and record["status"] == "completed"
    assert (record["trigger"], record["actor"], record["peer"]) == ("api", "restore", "127.0.0.1")
    assert (record["source"], record["fromSource"], record["error"]) == ("cache", "cache", "")
    assert record["finishedAt"] >= record["startedAt"] and record["seconds"] > 0


def test_restore_into_another_addon(world: World) -> None:
    sh(f"{world.stack}-cache", f"{REDIS} SET moved yes")
    backup_id = backup_now(world)
    settled(world, backup_id)
    path = f"/api/v1/backups/{backup_id}/restore"
    refused = post_json(world, path, world.tokens["restore"], {"to": "spare"})
    assert refused.status == 422
    message = refused.json()["error"]["message"]
    assert "add-on spare" in message and "afterwards: none" in message
    events = world.server.sse("/api/v1/events?types=restore", world.tokens["deploy"])
    try:
        answer = post_json(
            world, path, world.tokens["restore"], {"acknowledgeDataOverwrite": True, "to": "spare"}
        )
        assert answer.status == 202, answer.text
        got = events.next_events(
            lambda evs: any(e["event"] in ("restore.finished", "restore.failed") for e in evs),
            timeout=120,
        )
    finally:
        events.close()
    assert answer.json()["addon"] == "spare" and answer.json()["stoppedApps"] == []
    assert got[-1]["event"] == "restore.finished", got
    restore_id = answer.json()["restoreId"]
    into = world.server.get("/api/v1/restores?source=spare", world.tokens["read"]).json()["data"]
    assert [(r["id"], r["fromSource"], r["status"]) for r in into][:1] == [
        (restore_id, "cache", "completed")
    ]
    assert redis_get(world, "moved", "spare") == "yes"
    # The spare server kept its own password: the restored data, not the credentials.
    assert password(world, "spare") != password(world, "cache")


def test_restore_errors(world: World) -> None:
    token = world.tokens["restore"]
    backup_id = settled(world, backup_now(world))["id"]
    path = f"/api/v1/backups/{backup_id}/restore"
    yes = {"acknowledgeDataOverwrite": True}
    cases: list[tuple[Any, bytes | None, int]] = [
        (None, b"not json", 400),
        (None, b"[true]", 400),
        ({"acknowledgeDataOverwrite": "yes"}, None, 400),
        ({**yes, "force": True}, None, 400),
        ({**yes, "to": 7}, None, 400),
        ({**yes, "to": "nope"}, None, 404),
    ]
    for body, raw, status in cases:
        answer = post_json(world, path, token, body, raw=raw)
        assert answer.status == status, (body, raw, answer.text)
        assert answer.json()["error"]["status"] == status
    assert post_json(world, "/api/v1/backups/999999/restore", token, yes).status == 404
    assert post_json(world, path, world.tokens["write"], yes).status == 403
    assert post_json(world, path, "rcl_nope", yes).status == 401
    # Records that cannot be restored: a failed backup (409), another stack's backup (422).
    log = world.daemon.job_runner.backups.log
    failed = log.start(world.stack, "cache", "", "addon", "redis", "7")
    log.fail(failed, "the dump command exited with 1")
    answer = post_json(world, f"/api/v1/backups/{failed}/restore", token, yes)
    assert answer.status == 409 and "failed" in answer.json()["error"]["message"]
    foreign = log.start("another-stack", "cache", "", "addon", "redis", "7")
    log.complete(foreign, 10, "0" * 64)
    answer = post_json(world, f"/api/v1/backups/{foreign}/restore", token, yes)
    assert answer.status == 422 and "another-stack" in answer.json()["error"]["message"]
    for record_id in (failed, foreign):
        log.delete(record_id)


def test_a_failed_restore_is_listed_with_its_reason(world: World) -> None:
    server = world.server
    record = settled(world, backup_now(world))
    path = f"/api/v1/backups/{record['id']}/restore"

    def ended() -> dict[str, Any] | None:
        found = server.get(f"/api/v1/restores?backupId={record['id']}", world.tokens["read"])
        rows: list[dict[str, Any]] = found.json()["data"]
        return rows[0] if rows and rows[0]["status"] != "running" else None

    Path(record["path"]).write_bytes(b"not the backup")  # the checksum no longer matches
    try:
        answer = post_json(world, path, world.tokens["restore"], {ACKNOWLEDGE: True})
        assert answer.status == 202, answer.text
        failed = wait_until(ended, 30, f"the restore of backup {record['id']} to end")
    finally:  # no other test may meet the damaged backup
        world.daemon.job_runner.backups.log.delete(record["id"])
        Path(record["path"]).unlink()
    restore_id = answer.json()["restoreId"]
    assert failed is not None and failed["id"] == restore_id and failed["status"] == "failed"
    assert "checksum mismatch" in failed["error"] and failed["trigger"] == "api"
    assert password(world) not in json.dumps(failed)
    # Filters, sort and pages as every list; the scope is backups:read.
    token = world.tokens["read"]
    only = server.get("/api/v1/restores?status=failed&trigger=api", token).json()["data"]
    assert restore_id in {r["id"] for r in only} and {r["status"] for r in only} == {"failed"}
    page = server.get("/api/v1/restores?limit=1&sort=id:asc", token).json()
    assert len(page["data"]) == 1 and page["data"][0]["id"] <= restore_id
    assert page["pagination"]["hasMore"] is (page["pagination"]["total"] > 1)
    assert server.get("/api/v1/restores?status=nope", token).status == 400
    assert server.get("/api/v1/restores?backupId=x", token).status == 400
    assert server.get("/api/v1/restores?sort=actor:asc", token).status == 400
    assert server.get("/api/v1/restores", world.tokens["restore"]).status == 403


# --- tasks ---------------------------------------------------------------------------------------


def _runs(world: World, task: str, query: str = "") -> dict[str, Any]:
    answer = world.server.get(f"/api/v1/tasks/{task}/runs{query}", world.tokens["trigger"])
    assert answer.status == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _run_ended(world: World, task: str, run_id: int) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        run = next(r for r in _runs(world, task, "?limit=100")["data"] if r["id"] == run_id)
        return None if run["status"] == "running" else run

    run = wait_until(ended, 60, f"run {run_id} of {task} to end")
    assert run is not None
    return run


def test_task_run_through_the_api_is_recorded(world: World) -> None:
    server = world.server
    events = server.sse("/api/v1/events?types=task", world.tokens["deploy"])
    try:
        answer = server.post("/api/v1/tasks/hello/runs", world.tokens["trigger"])
        assert answer.status == 202, answer.text
        body = answer.json()
        assert body["task"] == "hello" and body["status"] == "running"
        run = _run_ended(world, "hello", body["runId"])
        got = events.next_events(lambda evs: any(e["event"] == "task.finished" for e in evs))
    finally:
        events.close()
    assert run["status"] == "succeeded" and run["exitCode"] == 0 and run["trigger"] == "api"
    assert "hello from a task" in run["logTail"]
    # The task printed its environment: the add-on's password is masked in the record.
    assert password(world) not in json.dumps(_runs(world, "hello"))
    assert [e["event"] for e in got] == ["task.started", "task.finished"]
    assert got[1]["data"]["data"]["runId"] == body["runId"]
    entry = next(e for e in audit(world) if e["action"] == "task.run")
    assert entry["actor"] == "trigger" and str(body["runId"]) in entry["detail"]

    failed = server.post("/api/v1/tasks/broken/runs", world.tokens["trigger"]).json()
    run = _run_ended(world, "broken", failed["runId"])
    assert run["status"] == "failed" and run["exitCode"] == 3 and "oops" in run["logTail"]
    assert _runs(world, "broken", "?status=failed")["pagination"]["total"] == 1
    assert _runs(world, "broken", "?status=succeeded")["data"] == []


def test_task_with_forbid_concurrency_refuses_a_second_run(world: World) -> None:
    server, token = world.server, world.tokens["trigger"]
    first = server.post("/api/v1/tasks/slow/runs", token)
    second = server.post("/api/v1/tasks/slow/runs", token)
    assert first.status == 202, first.text
    assert second.status == 409 and "already running" in second.json()["error"]["message"]
    assert _run_ended(world, "slow", first.json()["runId"])["status"] == "succeeded"
    again = server.post("/api/v1/tasks/slow/runs", token)
    assert again.status == 202, again.text
    _run_ended(world, "slow", again.json()["runId"])


def test_task_errors_and_scopes(world: World) -> None:
    server = world.server
    assert server.post("/api/v1/tasks/nope/runs", world.tokens["trigger"]).status == 404
    assert server.get("/api/v1/tasks/nope/runs", world.tokens["trigger"]).status == 404
    assert server.post("/api/v1/tasks/hello/runs", world.tokens["apps"]).status == 403
    assert server.get("/api/v1/tasks/hello/runs", world.tokens["deploy"]).status == 403
    assert (
        server.get("/api/v1/tasks/hello/runs?status=bogus", world.tokens["trigger"]).status == 400
    )


# --- doctor --------------------------------------------------------------------------------------


def test_doctor_lists_the_scheduled_jobs(world: World) -> None:
    # A pass through the daemon's queue re-syncs the scheduler's jobs from the manifests.
    answer = world.server.post("/api/v1/reconcile?wait=true", world.tokens["trigger"])
    assert answer.status == 200, answer.text
    doctor = world.server.get("/api/v1/system/doctor", world.tokens["deploy"]).json()
    ids = [job["id"] for job in doctor["scheduler"]["jobs"]]
    assert f"{world.stack}:backup:cache-nightly" in ids
