"""The REST API over real HTTP on 127.0.0.1, served by the real aiohttp app around a real Daemon
that follows a git repository made here and drives the real Docker engine.

One stack per module: one pass brings it up, then every endpoint is exercised against it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from .support import BUSYBOX_1, engine_skip_reason
from .test_api_harness import World, apps_doc, start_world, wait_until

pytestmark = [pytest.mark.docker]
if reason := engine_skip_reason():
    pytestmark.append(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from start_world(tmp_path_factory.mktemp("api"), apps_doc)


# --- authentication and the error envelope ------------------------------------------------------


def test_missing_unknown_and_underscoped_tokens(world: World) -> None:
    api = world.server
    for answer in (api.get("/api/v1/apps"), api.get("/api/v1/apps", "rcl_not-a-token")):
        assert answer.status == 401
        assert answer.json() == {
            "error": {
                "code": "unauthorized",
                "message": "missing or unknown API token",
                "status": 401,
            }
        }
    forbidden = api.get("/api/v1/apps", world.tokens["addons"])
    assert forbidden.status == 403
    assert forbidden.json()["error"]["code"] == "forbidden"
    assert "apps:read" in forbidden.json()["error"]["message"]
    assert api.get("/api/v1/apps", world.tokens["apps"]).status == 200
    assert api.get("/api/v1/apps", world.tokens["admin"]).status == 200  # admin implies all
    # Unknown API paths do not reveal themselves to strangers.
    assert api.get("/api/v1/nothing-here").status == 401
    assert api.get("/api/v1/nothing-here", world.tokens["apps"]).status == 404
    audit = api.get("/api/v1/audit-events?limit=100", world.tokens["admin"]).json()["data"]
    actions = {event["action"] for event in audit}
    assert {"auth.failed", "auth.forbidden"} <= actions
    assert all(event["source"] == "127.0.0.1" for event in audit)


def test_public_routes_need_no_token(world: World) -> None:
    api = world.server
    health = api.get("/health")
    assert health.status == 200 and health.json()["revision"] == world.commit
    assert api.get("/openapi.json").status == 200
    assert api.get("/api/v1/openapi.json").json() == api.get("/openapi.json").json()
    assert api.get("/metrics").status == 200


# --- apps: list, object, status -----------------------------------------------------------------


def test_app_list_filters_sorts_and_pages(world: World) -> None:
    api, token = world.server, world.tokens["apps"]
    page = api.get("/api/v1/apps", token).json()
    assert [a["name"] for a in page["data"]] == ["ticker", "web"]
    assert page["pagination"] == {"total": 2, "limit": 20, "offset": 0, "hasMore": False}
    desc = api.get("/api/v1/apps?sort=name:desc&limit=1", token).json()
    assert [a["name"] for a in desc["data"]] == ["web"]
    assert desc["pagination"] == {"total": 2, "limit": 1, "offset": 0, "hasMore": True}
    staging = api.get("/api/v1/apps?environment=staging", token).json()["data"]
    assert [a["name"] for a in staging] == ["web"]
    assert api.get("/api/v1/apps?search=tick", token).json()["pagination"]["total"] == 1
    assert api.get("/api/v1/apps?status=failed", token).json()["data"] == []
    for bad in ("limit=0", "limit=101", "offset=-1", "sort=bogus:asc", "sort=name:up",
                "status=sleepy", "limit=x", "stauts=running"):  # fmt: skip
        answer = api.get(f"/api/v1/apps?{bad}", token)
        assert answer.status == 400, bad
        assert answer.json()["error"]["code"] == "bad_request"


def test_app_object_and_status(world: World) -> None:
    api, token = world.server, world.tokens["apps"]
    web_app = api.get("/api/v1/apps/web", token).json()
    assert web_app["name"] == "web" and web_app["kind"] == "app"
    assert web_app["image"] == BUSYBOX_1 and web_app["replicas"] == 2
    assert web_app["environment"] == "staging" and web_app["declared"] is True
    assert [c["name"] for c in web_app["containers"]] == [
        f"{world.stack}-web-1",
        f"{world.stack}-web-2",
    ]
    assert "env" not in web_app  # environment values never leave the host
    status = api.get("/api/v1/apps/web/status", token).json()
    assert {k: status[k] for k in ("state", "replicas", "readyReplicas", "health", "revision")} == {
        "state": "running",
        "replicas": 2,
        "readyReplicas": 2,
        "health": "healthy",
        "revision": world.commit,
    }
    assert status["message"] == "all 2 replicas ready"
    missing = api.get("/api/v1/apps/nope/status", token)
    assert missing.status == 404
    assert missing.json()["error"] == {
        "code": "not_found",
        "message": f"no app named 'nope' in stack {world.stack}",
        "status": 404,
    }


# --- logs and metrics ---------------------------------------------------------------------------


def test_logs_last_lines_container_and_since(world: World) -> None:
    api, token = world.server, world.tokens["apps"]
    wait_until(lambda: api.get("/api/v1/apps/ticker/logs?lines=5", token).text.count("\n") == 5,
               10, "five log lines")  # fmt: skip
    answer = api.get("/api/v1/apps/ticker/logs?lines=3", token)
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/plain")
    lines = answer.text.splitlines()
    assert len(lines) == 3
    numbers = [int(line.rsplit(" ", 1)[1]) for line in lines]
    assert numbers == sorted(numbers) and all(f" {world.stack}-ticker-1 tick " in x for x in lines)
    one = api.get(f"/api/v1/apps/ticker/logs?lines=2&container={world.stack}-ticker-1", token)
    assert len(one.text.splitlines()) == 2
    assert api.get("/api/v1/apps/ticker/logs?container=someone-else", token).status == 404
    assert api.get("/api/v1/apps/ticker/logs?since=2999-01-01T00:00:00Z", token).text == ""
    assert api.get("/api/v1/apps/ticker/logs?since=yesterday", token).status == 400
    assert api.get("/api/v1/apps/ticker/logs?lines=0", token).status == 400


def test_follow_streams_new_lines_and_stops_when_the_client_leaves(world: World) -> None:
    api = world.server
    client = api.sse("/api/v1/apps/ticker/logs?follow=true&lines=1", world.tokens["apps"])
    try:
        assert client.response.status == 200
        assert client.response.getheader("Content-Type") == "text/event-stream"
        events = client.next_events(lambda got: len(got) >= 4)
    finally:
        client.close()
    assert len(events) >= 4 and all(e["event"] == "log" for e in events)
    ticks = [int(e["data"]["message"].split()[1]) for e in events]
    assert ticks == sorted(ticks) and len(set(ticks)) == len(ticks)  # new lines, no repeats
    assert ticks[-1] - ticks[0] >= 3
    # Bounded: the stream's slot and its engine reader go away with the client.
    wait_until(lambda: api.state.streams.open == 0, 10, "the stream slot to be released")
    wait_until(
        lambda: not [t for t in threading.enumerate() if t.name.startswith("logs-")],
        10,
        "the log follower threads to end",
    )


def test_metrics_from_one_shot_stats(world: World) -> None:
    api, token = world.server, world.tokens["apps"]
    metrics = api.get("/api/v1/apps/web/metrics", token).json()
    assert metrics["name"] == "web" and len(metrics["containers"]) == 2
    for key, unit in (("cpu", "cores"), ("memory", "bytes"), ("network", "bytes")):
        assert set(metrics[key]) >= {"usage", "limit", "percentage"}, key
        assert metrics[key]["unit"] == unit
    assert metrics["memory"]["usage"] > 0
    # Declared limits, summed over the two replicas.
    assert metrics["memory"]["limit"] == 2 * 64 * 1024**2
    assert 0 < metrics["memory"]["percentage"] < 100
    assert metrics["cpu"]["limit"] == 1.0 and metrics["network"]["limit"] is None
    assert [c["memory"]["limit"] for c in metrics["containers"]] == [64 * 1024**2] * 2
    assert api.get("/api/v1/apps/nope/metrics", token).status == 404


# --- system -------------------------------------------------------------------------------------


def test_doctor(world: World) -> None:
    doctor = world.server.get("/api/v1/system/doctor", world.tokens["deploy"]).json()
    assert doctor["status"] == "ok"
    assert doctor["docker"]["ok"] is True and doctor["git"]["ok"] is True
    assert doctor["revision"]["current"] == doctor["revision"]["lastGood"] == world.commit
    assert doctor["revision"]["pinned"] is False
    assert doctor["disk"]["freeBytes"] > 0
    assert doctor["scheduler"] == {"jobs": []}
    assert world.server.get("/api/v1/system/doctor", world.tokens["apps"]).status == 403


def test_prometheus_metrics(world: World) -> None:
    answer = world.server.get("/metrics")
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = answer.text
    assert 'reconciler_deployments{status="succeeded"}' in text
    assert "reconciler_reconcile_duration_seconds_count" in text
    assert 'reconciler_reconcile_duration_seconds_bucket{le="+Inf"}' in text
    assert "reconciler_drift_repairs 0" in text


def test_openapi_describes_every_served_route(world: World) -> None:
    spec = world.server.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.0")
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in world.server.app.router.routes()
        if route.resource is not None
    }
    documented = {(m, path) for path, ops in spec["paths"].items() for m in ops}
    assert served == documented
    assert spec["paths"]["/api/v1/addons/{name}/credentials"]["get"]["x-required-scope"] == (
        "addons:credentials"
    )
