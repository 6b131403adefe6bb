"""List conventions: pagination, sort and filter parsing, selection and ordering."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.api.errors import ApiError
from reconciler.api.listing import (
    Sort,
    envelope,
    order,
    parse_filters,
    parse_page,
    parse_sort,
    select,
)


def test_page_defaults_and_bounds() -> None:
    assert parse_page({}) == (20, 0)
    assert parse_page({"limit": "1", "offset": "5"}) == (1, 5)
    assert parse_page({"limit": "100"}) == (100, 0)
    for bad in ({"limit": "0"}, {"limit": "101"}, {"offset": "-1"}, {"limit": "ten"}):
        with pytest.raises(ApiError) as caught:
            parse_page(bad)
        assert caught.value.status == 400


def test_sort_parsing() -> None:
    allowed = ("name", "status")
    assert parse_sort(None, allowed, "name:asc") == Sort("name", False)
    assert parse_sort("status:desc", allowed, "name:asc") == Sort("status", True)
    assert parse_sort("status", allowed, "name:asc") == Sort("status", False)
    for bad in ("image:asc", "name:up", "name:", ":asc", "name;drop", ""):
        with pytest.raises(ApiError) as caught:
            parse_sort(bad, allowed, "name:asc")
        assert caught.value.status == 400
        assert "name, status" in caught.value.message


def test_filters_accept_known_values_only() -> None:
    allowed = {"status": ("running", "failed"), "type": None}
    assert parse_filters({"status": "running", "type": "redis", "x": "y"}, allowed) == {
        "status": "running",
        "type": "redis",
    }
    assert parse_filters({"type": ""}, allowed) == {}
    with pytest.raises(ApiError):
        parse_filters({"status": ""}, allowed)
    with pytest.raises(ApiError):
        parse_filters({"status": "sleepy"}, allowed)


ROWS: list[dict[str, Any]] = [
    {"name": "web", "status": "running", "replicas": 3, "image": "acme/web:1"},
    {"name": "api", "status": "failed", "replicas": 1, "image": "acme/api:2"},
    {"name": "worker", "status": "running", "replicas": None, "image": "acme/worker:1"},
]


def test_select_filters_and_searches() -> None:
    assert [r["name"] for r in select(ROWS, {"status": "running"}, None)] == ["web", "worker"]
    assert [r["name"] for r in select(ROWS, {}, "WOR")] == ["worker"]
    assert [r["name"] for r in select(ROWS, {}, "api:2", ("name", "image"))] == ["api"]


def test_order_numbers_strings_and_missing_values_last() -> None:
    assert [r["name"] for r in order(list(ROWS), Sort("replicas", False))] == [
        "api",
        "web",
        "worker",
    ]
    assert [r["name"] for r in order(list(ROWS), Sort("replicas", True))] == [
        "web",
        "api",
        "worker",
    ]
    assert [r["name"] for r in order(list(ROWS), Sort("name", True))] == ["worker", "web", "api"]


def test_envelope() -> None:
    assert envelope([1, 2], 5, 2, 0)["pagination"] == {
        "total": 5,
        "limit": 2,
        "offset": 0,
        "hasMore": True,
    }
    assert envelope([5], 5, 2, 4)["pagination"]["hasMore"] is False
