"""Views of backups, restores and task runs. Lists come from the records in the state database;
triggers start their work in a thread of its own (background.py) and answer 202 at once."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from reconciler.api.background import (
    backup_work,
    restore_summary,
    restore_work,
    start_in_thread,
    task_work,
)
from reconciler.api.errors import ApiError
from reconciler.api.keys import DAEMON
from reconciler.api.listing import order, paginate_rows, parse_filters, parse_sort, select
from reconciler.api.views import api_state, caller, record_id
from reconciler.backups.records import COMPLETED, EXPIRING, FAILED, RUNNING, BackupRecord
from reconciler.backups.restore import RestorePlan, plan_restore
from reconciler.backups.restore_records import RESTORE_STATUSES, Origin
from reconciler.backups.service import BackupService, SourceBusy
from reconciler.backups.sources import ADDON, VOLUME, resolve
from reconciler.scheduler import runs
from reconciler.scheduler.tasks import TaskBusy
from reconciler.state.errors import BackupError

BACKUP_SORTS = ("id", "startedAt", "finishedAt", "size", "source", "status")
BACKUP_STATUSES = (RUNNING, COMPLETED, FAILED, EXPIRING)
BACKUP_KINDS = (ADDON, VOLUME)
#: verified=true: verification passed; false: it failed; unknown: not verified (yet).
VERIFIED = ("true", "false", "unknown")
TASK_RUN_SORTS = ("id", "startedAt", "finishedAt", "status", "exitCode", "attempt")
TASK_RUN_STATUSES = (runs.RUNNING, runs.SUCCEEDED, runs.FAILED, runs.TIMED_OUT)
#: Runs are trimmed to KEEP_RUNS per task; this only bounds a pathological table.
MAX_TASK_RUNS = 1000
RESTORE_SORTS = ("id", "startedAt", "finishedAt", "seconds", "backupId", "source", "status")
ACKNOWLEDGE = "acknowledgeDataOverwrite"
RESTORE_FIELDS = (ACKNOWLEDGE, "to")


def _service(request: web.Request) -> BackupService:
    return request.app[DAEMON].job_runner.backups


def _on_loop(loop: asyncio.AbstractEventLoop, function: Callable[..., object], *args: Any) -> None:
    """Call `function` on the event loop from a worker thread (not at all once it is closed)."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(function, *args)


# --- reading backups -----------------------------------------------------------------------------


def _verified(record: BackupRecord) -> str:
    return {True: "true", False: "false", None: "unknown"}[record.verified]


def _backup_page(
    request: web.Request, records: Sequence[BackupRecord], extra: Mapping[str, Any] | None = None
) -> web.Response:
    query = request.query
    sort = parse_sort(query.get("sort"), BACKUP_SORTS, "id:desc")
    filters = parse_filters(
        query, {"status": BACKUP_STATUSES, "kind": BACKUP_KINDS, "source": None, **(extra or {})}
    )
    verified = parse_filters(query, {"verified": VERIFIED}).get("verified")
    addon = filters.pop("addon", None)
    rows = [
        r.to_dict()
        for r in records
        if (verified is None or _verified(r) == verified)
        and (addon is None or (r.kind == ADDON and r.source == addon))
    ]
    return paginate_rows(request, order(select(rows, filters, None), sort))


async def list_backups(request: web.Request) -> web.Response:
    return _backup_page(request, _service(request).log.find(), {"addon": None})


def _record(request: web.Request) -> BackupRecord:
    backup_id = record_id(request, "backup")
    record = _service(request).log.get(backup_id)
    if record is None:
        raise ApiError(404, f"no backup {backup_id}")
    return record


async def get_backup(request: web.Request) -> web.Response:
    return web.json_response(_record(request).to_dict())


async def addon_backups(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    snapshot = await api_state(request).view.snapshot()
    records = [
        r for r in _service(request).log.find(snapshot.stack, source=name) if r.kind == ADDON
    ]
    if not records and name not in snapshot.manifests.addons:
        snapshot.get("addon", name)  # 404 unless a running, undeclared add-on has that name
    return _backup_page(request, records)


# --- backup and restore triggers ---------------------------------------------------------------


async def start_backup(request: web.Request) -> web.Response:
    state, daemon = api_state(request), request.app[DAEMON]
    name = request.match_info["name"]
    snapshot = await state.view.snapshot()
    stack = snapshot.manifests
    if name not in stack.addons:
        snapshot.get("addon", name)  # 404 for names nobody knows
        raise ApiError(409, f"add-on {name} is not declared; only declared add-ons are backed up")
    job = resolve(stack, name).job or None
    work = backup_work(daemon.job_runner.backups, stack, name)
    try:
        backup_id = await start_in_thread(f"backup-{name}", work)
    except SourceBusy as e:
        raise ApiError(409, str(e)) from e
    who = caller(request)
    through = f" (declared backup {job})" if job else ""
    daemon.audit("addon.backup", f"backup {backup_id} of {name}{through}", who.peer, who.actor)
    body = {"backupId": backup_id, "status": "in_progress", "addon": name, "job": job}
    return web.json_response(body, status=202)


async def _restore_request(request: web.Request) -> tuple[bool, str | None]:
    """(acknowledged, to) from the optional JSON body; malformed bodies are a 400."""
    raw = await request.read()
    if not raw.strip():
        return False, None
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise ApiError(400, "the body must be a JSON object") from e
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    unknown = sorted(set(body) - set(RESTORE_FIELDS))
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]!r} (allowed: {', '.join(RESTORE_FIELDS)})")
    acknowledged = body.get(ACKNOWLEDGE, False)
    if not isinstance(acknowledged, bool):
        raise ApiError(400, f"{ACKNOWLEDGE} must be true or false")
    to = body.get("to")
    if to is not None and (not isinstance(to, str) or not to):
        raise ApiError(400, "to must be the name of an add-on")
    return acknowledged, to


def overwrite_warning(plan: RestorePlan) -> str:
    """What a restore overwrites and stops, said before anything happens."""
    record, target = plan.record, plan.target
    taken = f"{record.source}, taken {record.started_at}"
    apps = ", ".join(target.apps) or "none"
    if target.kind == ADDON:
        engine = f"{record.engine} {record.version}".strip()
        what = (
            f"all data of add-on {target.source} ({engine}; container {target.container}, "
            f"volume {target.volume}) is replaced by backup {record.id} ({taken})"
        )
        if target.handling.offline_restore:
            what += f"; {target.source} itself is stopped while its data file is replaced"
    else:
        what = f"the files in volume {target.volume} are replaced by backup {record.id} ({taken})"
    return (
        f"restoring overwrites data: {what}; connected apps stopped during the restore and "
        f'started again afterwards: {apps}. Send {{"{ACKNOWLEDGE}": true}} to go on.'
    )


async def restore_backup(request: web.Request) -> web.Response:
    state, daemon = api_state(request), request.app[DAEMON]
    acknowledged, to = await _restore_request(request)
    record = _record(request)
    if record.status != COMPLETED:
        raise ApiError(409, f"backup {record.id} is {record.status}; only completed ones restore")
    snapshot = await state.view.snapshot()
    stack = snapshot.manifests
    if record.stack != stack.stack:
        raise ApiError(
            422, f"backup {record.id} belongs to stack {record.stack}, not {stack.stack}"
        )
    if to is not None and record.kind != ADDON:
        raise ApiError(422, f"backup {record.id} is of a volume; `to` applies to add-ons only")
    if to is not None and to not in stack.addons:
        known = ", ".join(sorted(stack.addons)) or "none"
        raise ApiError(404, f"no add-on named {to!r} to restore into (declared: {known})")
    service = daemon.job_runner.backups
    try:
        plan = plan_restore(service, stack, record.id, to)
    except BackupError as e:  # a different engine, a volume no longer declared, appendonly
        raise ApiError(422, str(e)) from e
    if not acknowledged:
        raise ApiError(422, overwrite_warning(plan), code="acknowledgement_required")
    loop = asyncio.get_running_loop()
    who = caller(request)
    origin = Origin("api", who.actor, who.peer)
    work = restore_work(
        service, plan, state.bus, lambda: _on_loop(loop, state.view.invalidate), origin
    )
    try:
        restore_id = await start_in_thread(f"restore-{record.id}", work)
    except SourceBusy as e:
        raise ApiError(409, str(e)) from e
    into = plan.target.container or plan.target.volume
    daemon.audit(
        "backup.restore",
        f"restore {restore_id} of backup {record.id} ({record.source}) into {into}; "
        f"apps stopped meanwhile: {', '.join(plan.target.apps) or 'none'}",
        who.peer,
        who.actor,
    )
    body = {**restore_summary(plan), "restoreId": restore_id, "status": "in_progress"}
    return web.json_response(body, status=202)


async def list_restores(request: web.Request) -> web.Response:
    """Every restore, newest first: who asked, through what, into which target, the outcome."""
    query = request.query
    sort = parse_sort(query.get("sort"), RESTORE_SORTS, "id:desc")
    filters = parse_filters(
        query,
        {
            "status": RESTORE_STATUSES, "kind": BACKUP_KINDS, "source": None,
            "fromSource": None, "trigger": None, "backupId": None,
        },
    )  # fmt: skip
    if "backupId" in filters:
        try:  # compared as text below, so "012" must not quietly match nothing
            filters["backupId"] = str(int(filters["backupId"]))
        except ValueError as e:
            raise ApiError(400, "backupId must be an integer") from e
    rows = [r.to_dict() for r in _service(request).restores.find()]
    return paginate_rows(request, order(select(rows, filters, None), sort))


# --- tasks ---------------------------------------------------------------------------------------


async def run_task(request: web.Request) -> web.Response:
    state, daemon = api_state(request), request.app[DAEMON]
    name = request.match_info["name"]
    snapshot = await state.view.snapshot()
    task = snapshot.manifests.tasks.get(name)
    if task is None:
        known = ", ".join(sorted(snapshot.manifests.tasks)) or "none"
        raise ApiError(404, f"no task named {name!r} in stack {snapshot.stack} ({known})")
    # The runner's own check reads the records; this one also covers two calls at once.
    forbid = task.concurrency == "forbid"
    if forbid and name in state.busy_tasks:
        raise ApiError(409, f"task {name} is already running (concurrency: forbid)")
    if forbid:
        state.busy_tasks.add(name)
    loop = asyncio.get_running_loop()

    def done() -> None:
        if forbid:
            _on_loop(loop, state.busy_tasks.discard, name)

    mirror = daemon.mirror
    work = task_work(daemon.job_runner.tasks, lambda: mirror.manifest_dir, name, done)
    try:
        run_id = await start_in_thread(f"task-{name}", work)
    except TaskBusy as e:
        raise ApiError(409, str(e)) from e
    who = caller(request)
    daemon.audit("task.run", f"run {run_id} of task {name}", who.peer, who.actor)
    body = {"task": name, "runId": run_id, "status": "running", "trigger": "api"}
    return web.json_response(body, status=202)


async def list_task_runs(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    query = request.query
    sort = parse_sort(query.get("sort"), TASK_RUN_SORTS, "id:desc")
    filters = parse_filters(query, {"status": TASK_RUN_STATUSES, "trigger": None})
    snapshot = await api_state(request).view.snapshot()
    found = request.app[DAEMON].job_runner.task_runs.find(snapshot.stack, name, MAX_TASK_RUNS)
    if not found and name not in snapshot.manifests.tasks:
        raise ApiError(404, f"no task named {name!r} in stack {snapshot.stack}")
    rows = [run.to_dict() for run in found]
    return paginate_rows(request, order(select(rows, filters, None), sort))
