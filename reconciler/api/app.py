"""The aiohttp application: middlewares and routes."""

from __future__ import annotations

from aiohttp import web

from reconciler.api import views
from reconciler.api.auth import auth_middleware
from reconciler.api.errors import error_middleware
from reconciler.api.keys import DAEMON
from reconciler.api.webhooks import MAX_BODY, handle_webhook
from reconciler.daemon.service import Daemon


def build_app(daemon: Daemon) -> web.Application:
    app = web.Application(middlewares=[error_middleware, auth_middleware], client_max_size=MAX_BODY)
    app[DAEMON] = daemon
    app.router.add_get("/health", views.health)
    app.router.add_post("/api/v1/webhooks/{provider}", handle_webhook)
    app.router.add_get("/api/v1/deployments", views.list_deployments)
    app.router.add_get("/api/v1/deployments/{id}", views.get_deployment)
    app.router.add_post("/api/v1/deployments/{id}/retry", views.retry_deployment)
    app.router.add_post("/api/v1/reconcile", views.trigger_reconcile)
    app.router.add_get("/api/v1/plan", views.get_plan)
    app.router.add_get("/api/v1/apps", views.list_apps)
    app.router.add_get("/api/v1/addons", views.list_addons)
    app.router.add_get("/api/v1/audit-events", views.list_audit_events)
    return app
