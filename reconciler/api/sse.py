"""Server-sent events: the wire format, a cap on open streams, and a pump that stops as soon as
the client goes away or the server shuts down.

aiohttp does not cancel a handler whose client disconnected, so the pump checks the transport
every second and sends a comment as a heartbeat, whose failed write also reveals a dead peer.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from aiohttp import web

from reconciler.api.errors import ApiError

T = TypeVar("T")
HEARTBEAT_SECONDS = 15.0
POLL_SECONDS = 1.0
MAX_STREAMS = 32


def format_event(data: Any, event: str | None = None, event_id: str | None = None) -> bytes:
    """One SSE message; `data` that is not a string is sent as compact JSON."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    lines = [f"id: {event_id}"] if event_id is not None else []
    if event:
        lines.append(f"event: {event}")
    lines.extend(f"data: {part}" for part in text.split("\n"))
    return ("\n".join(lines) + "\n\n").encode()


class StreamSlots:
    """At most `limit` open streams; the next one is refused with 429 rather than queued."""

    def __init__(self, limit: int = MAX_STREAMS) -> None:
        self.limit = limit
        self.open = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self.open >= self.limit:
            raise ApiError(
                429,
                f"too many open event streams (at most {self.limit})",
                headers={"Retry-After": "5"},
            )
        self.open += 1
        try:
            yield
        finally:
            self.open -= 1


async def open_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # proxies must not hold events back
        }
    )
    await response.prepare(request)
    await response.write(b": stream open\n\n")
    return response


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def pump(
    request: web.Request,
    response: web.StreamResponse,
    next_item: Callable[[float], Awaitable[T | None]],
    render: Callable[[T], bytes],
    shutdown: asyncio.Event,
) -> None:
    """Write rendered items until the client leaves or the server stops."""
    last_write = time.monotonic()
    try:
        while not shutdown.is_set() and not _gone(request):
            item = await next_item(POLL_SECONDS)
            if item is not None:
                await response.write(render(item))
                last_write = time.monotonic()
            elif time.monotonic() - last_write >= HEARTBEAT_SECONDS:
                await response.write(b": keepalive\n\n")
                last_write = time.monotonic()
    except (ConnectionResetError, ConnectionError):
        return  # the client went away mid-write
