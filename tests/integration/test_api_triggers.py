"""API triggers over real HTTP: reconcile (and its events), Idempotency-Key, rate limits (429),
and rolling restarts of real containers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.api.ratelimit import RateLimiter

from .support import engine_skip_reason, inspect
from .test_api_harness import World, apps_doc, start_world, wait_until

pytestmark = [pytest.mark.docker]
if reason := engine_skip_reason():
    pytestmark.append(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from start_world(tmp_path_factory.mktemp("api-triggers"), apps_doc)


def _audit(world: World) -> list[dict[str, Any]]:
    return list(
        world.server.get("/api/v1/audit-events?limit=100", world.tokens["admin"]).json()["data"]
    )


def test_reconcile_is_queued_audited_and_announced_as_events(world: World) -> None:
    api = world.server
    events = api.sse("/api/v1/events?types=deployment", world.tokens["deploy"])
    try:
        answer = api.post("/api/v1/reconcile", world.tokens["trigger"])
        assert answer.status == 202
        assert answer.json()["status"] == "queued"
        got = events.next_events(
            lambda evs: any(e["event"] == "deployment.finished" for e in evs), timeout=30
        )
    finally:
        events.close()
    finished = [e for e in got if e["event"] == "deployment.finished"]
    assert finished, got
    assert finished[0]["data"]["data"]["trigger"] == "api"
    assert finished[0]["data"]["data"]["status"] == "noop"
    assert all(e["event"].startswith("deployment.") for e in got)
    triggered = [e for e in _audit(world) if e["action"] == "reconcile.triggered"]
    assert (
        triggered and triggered[0]["actor"] == "trigger" and triggered[0]["source"] == "127.0.0.1"
    )
    assert api.post("/api/v1/reconcile", world.tokens["apps"]).status == 403


def test_reconcile_can_wait_for_its_deployment(world: World) -> None:
    answer = world.server.post("/api/v1/reconcile?wait=true", world.tokens["trigger"])
    assert answer.status == 200
    body = answer.json()
    assert body["status"] == "noop" and isinstance(body["deploymentId"], int)
    deployment = world.server.get(
        f"/api/v1/deployments/{body['deploymentId']}", world.tokens["deploy"]
    )
    assert deployment.json()["trigger"] == "api"


def test_idempotency_key_replays_the_first_answer_and_starts_nothing(world: World) -> None:
    api, token = world.server, world.tokens["trigger"]
    before = world.daemon.queue.accepted
    first = api.post("/api/v1/reconcile", token, Idempotency_Key="deploy-42")
    again = api.post("/api/v1/reconcile", token, Idempotency_Key="deploy-42")
    assert first.status == again.status == 202
    assert first.body == again.body
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert world.daemon.queue.accepted == before + 1
    # Another token's identical key is its own request.
    other = api.post("/api/v1/reconcile", world.tokens["admin"], Idempotency_Key="deploy-42")
    assert other.status == 202 and "Idempotent-Replayed" not in other.headers
    assert world.daemon.queue.accepted == before + 2


def test_triggers_are_rate_limited_per_token_with_retry_after(world: World) -> None:
    api, state = world.server, world.server.state
    saved = state.triggers, state.webhooks
    state.triggers, state.webhooks = RateLimiter(6, 2), RateLimiter(6, 1)
    try:
        statuses = [api.post("/api/v1/deployments/999999/retry", world.tokens["trigger"]).status
                    for _ in range(3)]  # fmt: skip
        assert statuses == [404, 404, 429]
        limited = api.post("/api/v1/deployments/999999/retry", world.tokens["trigger"])
        assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["error"]["code"] == "rate_limited"
        # Another token has its own bucket.
        assert api.post("/api/v1/deployments/999999/retry", world.tokens["admin"]).status == 404
        # Webhooks are limited per peer, before their signature is even checked.
        assert api.post("/api/v1/webhooks/github").status == 401
        assert api.post("/api/v1/webhooks/github").status == 429
    finally:
        state.triggers, state.webhooks = saved


def test_rolling_restart_restarts_containers_in_place_one_by_one(world: World) -> None:
    api, token = world.server, world.tokens["trigger"]
    names = [f"{world.stack}-web-1", f"{world.stack}-web-2"]
    before = {name: inspect(name) for name in names}
    events = api.sse("/api/v1/events?types=restart", world.tokens["deploy"])
    try:
        answer = api.post("/api/v1/apps/web/restart", token)
        assert answer.status == 202, answer.text
        assert answer.json() == {"name": "web", "kind": "app", "status": "restarting",
                                 "containers": names}  # fmt: skip
        got = events.next_events(lambda evs: any(e["event"] == "restart.finished" for e in evs))
    finally:
        events.close()
    assert [e["event"] for e in got] == ["restart.started", "restart.finished"], got
    after = {name: inspect(name) for name in names}
    for name in names:
        assert after[name]["Id"] == before[name]["Id"], "a restart must not recreate"
        assert after[name]["State"]["StartedAt"] > before[name]["State"]["StartedAt"]
        assert after[name]["State"]["Running"]
    # Rolling: the second started again only after the first was back.
    assert after[names[0]]["State"]["StartedAt"] < after[names[1]]["State"]["StartedAt"]
    status = wait_until(
        lambda: (s := api.get("/api/v1/apps/web/status", token).json())["state"] == "running" and s,
        10,
        "web to be running again",
    )
    assert status["readyReplicas"] == 2
    assert any(e["action"] == "app.restart" and e["actor"] == "trigger" for e in _audit(world))
    assert api.post("/api/v1/apps/nope/restart", token).status == 404
    assert api.post("/api/v1/apps/web/restart", world.tokens["apps"]).status == 403
