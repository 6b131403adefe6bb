"""The shape of one route in the route table: what serves it, who may call it, what it answers.

The table (routes.py) is the single source for registration, authentication, rate limiting and
the OpenAPI document, so none of them can drift from what is actually served.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

JSON = "application/json"
TEXT = "text/plain"
SSE = "text/event-stream"
PROMETHEUS = "text/plain; version=0.0.4"


@dataclass(frozen=True)
class Param:
    name: str
    where: str  # path | query | header
    schema: dict[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    #: Scope the bearer token needs (admin implies all); None: public.
    scope: str | None
    #: Component schema name of the success body (for JSON), or None for text bodies.
    response: str | None = None
    status: int = 200
    #: Other success statuses with the same body (e.g. 200 when a trigger waited for its pass).
    also: tuple[int, ...] = ()
    media: str = JSON
    #: Other media types the success body may come as (e.g. event streams when following).
    also_media: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    #: Starts work: rate limited, audited, and honours Idempotency-Key.
    trigger: bool = False
    #: Error statuses this route can answer besides the ones every route can.
    errors: tuple[int, ...] = ()
    #: Component schema name of a JSON request body, if any.
    body: str | None = None
    #: The operation needs that body (else it answers 422 saying why).
    body_required: bool = False
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
