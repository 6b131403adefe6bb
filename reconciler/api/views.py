"""Thin views: parse the request, ask the daemon, shape the answer (health, deployments,
reconcile, plan, lists, audit). Health is degraded by a git error or a degraded backup."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from reconciler import __version__
from reconciler.api.actions import Caller
from reconciler.api.errors import ApiError
from reconciler.api.freshness import statuses
from reconciler.api.keys import DAEMON, STATE, TOKEN, ApiState
from reconciler.api.listing import (
    envelope,
    order,
    paginate,
    paginate_rows,
    parse_filters,
    parse_page,
    parse_sort,
    query_flag,
    select,
)
from reconciler.api.resources import STATES
from reconciler.daemon.controller import GIT_ERROR, LAST_GOOD, LAST_RECONCILE, PINNED
from reconciler.plan.render import plan_to_dict
from reconciler.scheduler.backup_health import degraded_reasons
from reconciler.store.deployments import STATUSES, Deployment

ENVIRONMENTS = ("development", "staging", "production")
APP_SORTS = ("name", "status", "health", "sync", "replicas", "readyReplicas", "environment",
             "image", "type")  # fmt: skip
DEPLOYMENT_SORTS = ("id", "startedAt", "finishedAt", "status", "trigger")
#: Deployments are pruned to a few hundred; sorting them in memory is cheap at that size.
MAX_SORTED_DEPLOYMENTS = 5000


def api_state(request: web.Request) -> ApiState:
    return request.app[STATE]


def caller(request: web.Request) -> Caller:
    token = request.get(TOKEN)
    return Caller(actor=token.name if token is not None else "", peer=request.remote or "?")


async def health(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    last = daemon.db.get_meta(LAST_RECONCILE)
    git_error = daemon.db.get_meta(GIT_ERROR)
    backups = await statuses(daemon)
    # A git error comes first: it also explains why the backups' manifests may be old.
    reasons = ([git_error] if git_error else []) + degraded_reasons(backups)
    return web.json_response(
        {
            "status": "degraded" if reasons else "ok",
            "version": __version__,
            "revision": daemon.db.get_meta(LAST_GOOD),
            "pinned": daemon.db.get_meta(PINNED),
            "reason": "; ".join(reasons) if reasons else None,
            "lastReconcile": json.loads(last) if last else None,
            "backups": {
                "declared": len(backups),
                "degraded": [s.backup for s in backups if s.degraded],
            },
        }
    )


async def list_deployments(request: web.Request) -> web.Response:
    log = request.app[DAEMON].controller.deployments
    filters = parse_filters(request.query, {"status": STATUSES, "trigger": None})
    sort = parse_sort(request.query.get("sort"), DEPLOYMENT_SORTS, "id:desc")
    status = filters.pop("status", None)
    if sort.render() in ("id:desc", "startedAt:desc") and not filters:
        # The common case pages in SQL, newest first.
        return paginate(
            request,
            lambda limit, offset: [d.to_dict() for d in log.list(limit, offset, status)],
            log.count(status),
        )
    rows = [d.to_dict() for d in log.list(MAX_SORTED_DEPLOYMENTS, 0, status)]
    return paginate_rows(request, order(select(rows, filters, None), sort))


async def get_deployment(request: web.Request) -> web.Response:
    return web.json_response(_deployment(request).to_dict())


def record_id(request: web.Request, what: str) -> int:
    """The {id} of the path; anything that cannot be a row id (SQLite's are int64) is a 404."""
    try:
        value = int(request.match_info["id"])
    except ValueError as e:
        raise ApiError(404, f"{what} ids are integers") from e
    if not 0 < value < 2**63:
        raise ApiError(404, f"no {what} {value}")
    return value


def _deployment(request: web.Request) -> Deployment:
    deployment_id = record_id(request, "deployment")
    deployment = request.app[DAEMON].controller.deployments.get(deployment_id)
    if deployment is None:
        raise ApiError(404, f"no deployment {deployment_id}")
    return deployment


async def trigger_reconcile(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    who = caller(request)
    wait = query_flag(request, "wait")  # checked before anything is triggered
    daemon.audit("reconcile.triggered", "POST /reconcile", who.peer, who.actor)
    ticket = daemon.queue.submit("api")
    if not wait:
        body = {"status": "queued", "deploymentId": None, "triggers": len(ticket.triggers)}
        return web.json_response(body, status=202)
    # The pass that covers this trigger creates the deployment; wait for it.
    result: Any = await asyncio.shield(ticket.done)
    return web.json_response(
        {
            "status": getattr(result, "status", "failed"),
            "deploymentId": getattr(result, "deployment_id", None),
            "revision": getattr(result, "revision", None),
        }
    )


async def retry_deployment(request: web.Request) -> web.Response:
    deployment = _deployment(request)
    daemon = request.app[DAEMON]
    if deployment.revision != daemon.db.get_meta(LAST_GOOD) and deployment.status == "refused":
        raise ApiError(409, "that revision was refused; push a fix instead of retrying it")
    who = caller(request)
    daemon.audit("deployment.retry", f"retry of {deployment.id}", who.peer, who.actor)
    daemon.queue.submit("api")
    return web.json_response(
        {"status": "queued", "retryOf": deployment.id, "deploymentId": None}, status=202
    )


async def get_plan(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    loop = asyncio.get_running_loop()
    prepared = await loop.run_in_executor(None, daemon.engine.prepare, daemon.mirror.manifest_dir)
    return web.json_response(plan_to_dict(prepared.plan))


async def list_apps(request: web.Request) -> web.Response:
    return await _list_workloads(request, "app")


async def list_addons(request: web.Request) -> web.Response:
    return await _list_workloads(request, "addon")


async def _list_workloads(request: web.Request, kind: str) -> web.Response:
    query = request.query
    limit, offset = parse_page(query)
    sort = parse_sort(query.get("sort"), APP_SORTS, "name:asc")
    filters = parse_filters(
        query, {"status": STATES, "environment": ENVIRONMENTS, "type": None, "sync": None}
    )
    snapshot = await api_state(request).view.snapshot()
    rows = select(snapshot.items(kind), filters, query.get("search"), ("name", "image", "type"))
    rows = order(rows, sort)
    return web.json_response(envelope(rows[offset : offset + limit], len(rows), limit, offset))


async def list_audit_events(request: web.Request) -> web.Response:
    audit = request.app[DAEMON].audit_log
    return paginate(request, audit.list, audit.count())
