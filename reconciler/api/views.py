"""Thin views: parse the request, ask the daemon, shape the answer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from reconciler import __version__
from reconciler.api.auth import requires
from reconciler.api.errors import error_response
from reconciler.api.keys import DAEMON
from reconciler.api.listing import paginate
from reconciler.daemon.controller import GIT_ERROR, LAST_GOOD, LAST_RECONCILE, PINNED
from reconciler.plan.render import plan_to_dict
from reconciler.plan.status import status_rows


async def health(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    last = daemon.db.get_meta(LAST_RECONCILE)
    git_error = daemon.db.get_meta(GIT_ERROR)
    return web.json_response(
        {
            "status": "degraded" if git_error else "ok",
            "version": __version__,
            "revision": daemon.db.get_meta(LAST_GOOD),
            "pinned": daemon.db.get_meta(PINNED),
            "reason": git_error,
            "lastReconcile": json.loads(last) if last else None,
        }
    )


@requires("deployments:read")
async def list_deployments(request: web.Request) -> web.Response:
    log = request.app[DAEMON].controller.deployments
    status = request.query.get("status")
    return paginate(
        request,
        lambda limit, offset: [d.to_dict() for d in log.list(limit, offset, status)],
        log.count(status),
    )


@requires("deployments:read")
async def get_deployment(request: web.Request) -> web.Response:
    deployment = _deployment(request)
    return web.json_response(deployment.to_dict())


def _deployment(request: web.Request) -> Any:
    try:
        deployment_id = int(request.match_info["id"])
    except ValueError as e:
        raise web.HTTPNotFound(reason="no such deployment") from e
    deployment = request.app[DAEMON].controller.deployments.get(deployment_id)
    if deployment is None:
        raise web.HTTPNotFound(reason=f"no deployment {deployment_id}")
    return deployment


@requires("reconcile:trigger")
async def trigger_reconcile(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    daemon.audit(
        "reconcile.triggered", "POST /reconcile", request.remote or "?", request["token"].name
    )
    ticket = daemon.queue.submit("api")
    return web.json_response({"status": "queued", "triggers": len(ticket.triggers)}, status=202)


@requires("reconcile:trigger")
async def retry_deployment(request: web.Request) -> web.Response:
    deployment = _deployment(request)
    daemon = request.app[DAEMON]
    if deployment.revision != daemon.db.get_meta(LAST_GOOD) and deployment.status == "refused":
        return error_response(409, "that revision was refused; push a fix instead of retrying it")
    daemon.audit(
        "deployment.retry",
        f"retry of {deployment.id}",
        request.remote or "?",
        request["token"].name,
    )
    daemon.queue.submit("api")
    return web.json_response({"status": "queued", "retryOf": deployment.id}, status=202)


@requires("deployments:read")
async def get_plan(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    loop = asyncio.get_running_loop()
    prepared = await loop.run_in_executor(None, daemon.engine.prepare, daemon.mirror.manifest_dir)
    return web.json_response(plan_to_dict(prepared.plan))


@requires("apps:read")
async def list_apps(request: web.Request) -> web.Response:
    rows = await _status_rows(request, "app")
    return paginate(request, lambda limit, offset: rows[offset : offset + limit], len(rows))


@requires("addons:read")
async def list_addons(request: web.Request) -> web.Response:
    rows = await _status_rows(request, "addon")
    return paginate(request, lambda limit, offset: rows[offset : offset + limit], len(rows))


async def _status_rows(request: web.Request, kind: str) -> list[dict[str, Any]]:
    daemon = request.app[DAEMON]
    loop = asyncio.get_running_loop()
    prepared = await loop.run_in_executor(None, daemon.engine.prepare, daemon.mirror.manifest_dir)
    rows = [row for row in status_rows(prepared.desired, prepared.observed) if row["kind"] == kind]
    search = request.query.get("search")
    return [row for row in rows if not search or search in row["name"]]


@requires("admin")
async def list_audit_events(request: web.Request) -> web.Response:
    audit = request.app[DAEMON].audit_log
    return paginate(request, audit.list, audit.count())
