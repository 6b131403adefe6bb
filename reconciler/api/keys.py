"""Typed application keys shared by the views, and the API's own runtime state."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from reconciler.api.idempotency import IdempotencyCache
from reconciler.api.ratelimit import RateLimiter
from reconciler.api.routing import Route
from reconciler.api.sse import StreamSlots
from reconciler.api.view import StackView
from reconciler.daemon.events import EventBus
from reconciler.daemon.service import Daemon
from reconciler.store.tokens import TokenInfo

DAEMON = web.AppKey("daemon", Daemon)
#: The verified token of an authenticated request (typed keys need aiohttp 3.12 or newer).
TOKEN: Any = web.RequestKey("token", TokenInfo) if hasattr(web, "RequestKey") else "token"


@dataclass
class ApiState:
    """Everything the views share besides the daemon; one per application."""

    view: StackView
    bus: EventBus
    triggers: RateLimiter
    webhooks: RateLimiter
    routes: tuple[Route, ...]
    idempotency: IdempotencyCache = field(default_factory=IdempotencyCache)
    streams: StreamSlots = field(default_factory=StreamSlots)
    shutdown: asyncio.Event = field(default_factory=asyncio.Event)
    #: Route specs by aiohttp route object, for the middlewares.
    by_route: dict[Any, Route] = field(default_factory=dict)
    #: Workloads with a restart in progress ("app/web"), and the tasks doing the work.
    restarting: set[str] = field(default_factory=set)
    #: `concurrency: forbid` tasks with a run the API started that has not ended yet.
    busy_tasks: set[str] = field(default_factory=set)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, work: Any, name: str) -> asyncio.Task[Any]:
        """Run `work` in the background, keeping a reference until it is done."""
        task = asyncio.create_task(work, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


STATE = web.AppKey("api_state", ApiState)
