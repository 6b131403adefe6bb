"""The aiohttp application: middlewares, the routes of the route table, background watchers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

from aiohttp import web

from reconciler.api.auth import (
    auth_middleware,
    idempotency_middleware,
    query_middleware,
    rate_limit_middleware,
)
from reconciler.api.errors import error_middleware
from reconciler.api.keys import DAEMON, STATE, ApiState
from reconciler.api.monitor import watch
from reconciler.api.ratelimit import from_env
from reconciler.api.routes import ROUTES
from reconciler.api.routing import Route
from reconciler.api.view import StackView
from reconciler.api.webhooks import MAX_BODY
from reconciler.daemon.events import EventBus
from reconciler.daemon.service import Daemon


def event_bus(daemon: Daemon) -> EventBus:
    """The daemon's bus when it has one (its drift follower publishes there), else our own."""
    bus = getattr(daemon, "events", None)
    return bus if isinstance(bus, EventBus) else EventBus()


def build_app(daemon: Daemon, routes: Sequence[Route] = ROUTES) -> web.Application:
    state = ApiState(
        view=StackView(daemon),
        bus=event_bus(daemon),
        # Defaults: 10 a minute with bursts of 5 per token; webhooks more, per peer.
        triggers=from_env("RECONCILER_API_TRIGGER_RATE", 10, 5),
        webhooks=from_env("RECONCILER_API_WEBHOOK_RATE", 60, 20),
        routes=tuple(routes),
    )
    app = web.Application(
        middlewares=[
            error_middleware,
            auth_middleware,
            query_middleware,
            idempotency_middleware,
            rate_limit_middleware,
        ],
        client_max_size=MAX_BODY,
    )
    app[DAEMON] = daemon
    app[STATE] = state
    for route in routes:
        registered = app.router.add_route(route.method, route.path, route.handler)
        state.by_route[registered] = route
    app.cleanup_ctx.append(_watcher)
    app.on_shutdown.append(_end_streams)
    return app


async def _watcher(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(watch(app[DAEMON], app[STATE]), name="api-events")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _end_streams(app: web.Application) -> None:
    # Open event streams would otherwise hold the shutdown until its timeout.
    app[STATE].shutdown.set()
