"""List conventions: limit (1-100, default 20) and offset, answered with a pagination envelope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web


def page_params(request: web.Request) -> tuple[int, int]:
    try:
        limit = int(request.query.get("limit", "20"))
        offset = int(request.query.get("offset", "0"))
    except ValueError as e:
        raise web.HTTPBadRequest(reason="limit and offset must be integers") from e
    if not 1 <= limit <= 100 or offset < 0:
        raise web.HTTPBadRequest(reason="limit must be 1-100 and offset at least 0")
    return limit, offset


def paginate(
    request: web.Request, fetch: Callable[[int, int], list[Any]], total: int
) -> web.Response:
    limit, offset = page_params(request)
    data = fetch(limit, offset)
    pagination = {
        "total": total,
        "limit": limit,
        "offset": offset,
        "hasMore": offset + len(data) < total,
    }
    return web.json_response({"data": data, "pagination": pagination})
