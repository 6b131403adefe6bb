"""List conventions: filters, sort=field:asc|desc, limit (1-100, default 20) and offset.

Answers are {"data": [...], "pagination": {"total", "limit", "offset", "hasMore"}}.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from reconciler.api.errors import ApiError

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
#: SQLite integers are 64-bit; no list gets anywhere near this.
MAX_OFFSET = 2**63 - 1
_SORT = re.compile(r"^([A-Za-z][A-Za-z0-9]*)(?::(asc|desc))?$")


@dataclass(frozen=True)
class Sort:
    field: str
    descending: bool

    def render(self) -> str:
        return f"{self.field}:{'desc' if self.descending else 'asc'}"


def page_params(request: web.Request) -> tuple[int, int]:
    return parse_page(request.query)


def parse_page(query: Mapping[str, str]) -> tuple[int, int]:
    try:
        limit = int(query.get("limit", str(DEFAULT_LIMIT)))
        offset = int(query.get("offset", "0"))
    except ValueError as e:
        raise ApiError(400, "limit and offset must be integers") from e
    if not 1 <= limit <= MAX_LIMIT or not 0 <= offset <= MAX_OFFSET:
        raise ApiError(400, f"limit must be 1-{MAX_LIMIT} and offset 0-{MAX_OFFSET}")
    return limit, offset


def parse_sort(value: str | None, allowed: Sequence[str], default: str) -> Sort:
    """`field:asc|desc` (direction optional, ascending by default) among `allowed` fields."""
    match = _SORT.match(default if value is None else value)
    if match is None or match.group(1) not in allowed:
        raise ApiError(
            400, f"sort must be FIELD:asc or FIELD:desc with FIELD one of {', '.join(allowed)}"
        )
    return Sort(match.group(1), match.group(2) == "desc")


def parse_filters(
    query: Mapping[str, str], allowed: Mapping[str, Collection[str] | None]
) -> dict[str, str]:
    """Exact-match filters present in `query`; a value outside a filter's known set is a 400."""
    filters: dict[str, str] = {}
    for name, values in allowed.items():
        value = query.get(name)
        if value is None or (value == "" and values is None):
            continue  # an empty free-text filter filters nothing
        if values is not None and value not in values:
            raise ApiError(400, f"{name} must be one of {', '.join(sorted(values))}")
        filters[name] = value
    return filters


def select(
    rows: Sequence[Mapping[str, Any]],
    filters: Mapping[str, str],
    search: str | None,
    search_fields: Sequence[str] = ("name",),
) -> list[Mapping[str, Any]]:
    needle = (search or "").strip().lower()
    return [
        row
        for row in rows
        if all(str(row.get(key)) == value for key, value in filters.items())
        and (not needle or any(needle in str(row.get(f) or "").lower() for f in search_fields))
    ]


def order(rows: list[Mapping[str, Any]], sort: Sort) -> list[Mapping[str, Any]]:
    """Sorted by one field; missing values last whatever the direction, name breaks ties."""

    def key(row: Mapping[str, Any]) -> tuple[tuple[int, float, str], str]:
        value = row.get(sort.field)
        if isinstance(value, bool | int | float):
            return (0, float(value), ""), str(row.get("name", ""))
        return (1, 0.0, "" if value is None else str(value)), str(row.get("name", ""))

    present = [row for row in rows if row.get(sort.field) is not None]
    missing = [row for row in rows if row.get(sort.field) is None]
    return sorted(present, key=key, reverse=sort.descending) + sorted(missing, key=key)


def envelope(data: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {
        "data": data,
        "pagination": {
            "total": total,
            "limit": limit,
            "offset": offset,
            "hasMore": offset + len(data) < total,
        },
    }


def paginate(
    request: web.Request, fetch: Callable[[int, int], list[Any]], total: int
) -> web.Response:
    limit, offset = page_params(request)
    return web.json_response(envelope(fetch(limit, offset), total, limit, offset))


def paginate_rows(request: web.Request, rows: Sequence[Any]) -> web.Response:
    limit, offset = page_params(request)
    return web.json_response(
        envelope(list(rows[offset : offset + limit]), len(rows), limit, offset)
    )


def query_flag(request: web.Request, name: str) -> bool:
    """A boolean query parameter, given at most once; anything else is a 400."""
    values = request.query.getall(name, [])
    if len(values) > 1:
        raise ApiError(400, f"{name} is given {len(values)} times; give it once")
    value = (values[0] if values else "false").lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise ApiError(400, f"{name} must be true or false")
    return value in ("true", "1", "yes")
