"""System views: doctor, the event stream, the OpenAPI document and Prometheus metrics."""

from __future__ import annotations

import asyncio

from aiohttp import web

from reconciler.api.doctor import doctor_report
from reconciler.api.errors import ApiError
from reconciler.api.keys import DAEMON
from reconciler.api.openapi import document
from reconciler.api.prometheus import render
from reconciler.api.sse import format_event, open_stream, pump
from reconciler.api.views import api_state
from reconciler.daemon.events import Event

#: Event type families a client may ask for with ?types=deployment,drift
EVENT_FAMILIES = ("deployment", "action", "drift", "health", "restart", "credentials", "backup",
                  "restore", "task")  # fmt: skip


async def doctor(request: web.Request) -> web.Response:
    return web.json_response(await doctor_report(request.app[DAEMON]))


def _after(request: web.Request) -> int | None:
    raw = request.query.get("after")
    if raw is not None:
        try:
            return int(raw)
        except ValueError as e:
            raise ApiError(400, "after must be an event id") from e
    # A browser sends back whatever id it last saw; one that is not ours replays nothing.
    header = request.headers.get("Last-Event-ID", "").strip()
    return int(header) if header.isdigit() else None


def _families(request: web.Request) -> frozenset[str] | None:
    raw = request.query.get("types")
    if raw is None:
        return None
    wanted = frozenset(part.strip() for part in raw.split(","))
    unknown = sorted(wanted - set(EVENT_FAMILIES))
    if unknown:
        raise ApiError(
            400, f"unknown event types {', '.join(unknown)}; known: {', '.join(EVENT_FAMILIES)}"
        )
    return wanted


async def events(request: web.Request) -> web.StreamResponse:
    state = api_state(request)
    families = _families(request)
    after = _after(request)
    async with state.streams.slot():
        subscription = state.bus.subscribe(after)

        async def next_event(timeout: float) -> Event | None:
            event = await subscription.get(timeout)
            if event is not None and families and event.type.split(".")[0] not in families:
                return None
            return event

        response = await open_stream(request)
        try:
            await pump(
                request,
                response,
                next_event,
                lambda e: format_event(e.to_dict(), e.type, str(e.id)),
                state.shutdown,
            )
        finally:
            subscription.close()
    return response


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document(api_state(request).routes))


async def prometheus_metrics(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    text = await asyncio.get_running_loop().run_in_executor(None, render, daemon)
    return web.Response(
        body=text.encode(),
        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
    )
