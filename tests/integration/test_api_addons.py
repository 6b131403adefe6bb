"""Add-on endpoints over real HTTP against a real Redis add-on: object, status, logs, metrics
with disk usage, credentials behind their own scope (and nowhere else), rotation, restart."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .support import (
    BUSYBOX_1,
    REDIS_REPOSITORY,
    SLEEP,
    engine_skip_reason,
    inspect,
    missing_image_reason,
)
from .test_api_harness import World, start_world, wait_until

GIB = 1024**3


pytestmark = [pytest.mark.docker]
if reason := engine_skip_reason() or missing_image_reason(f"{REDIS_REPOSITORY}:7"):
    pytestmark.append(pytest.mark.skip(reason=reason))


def addon_doc(stack: str) -> dict[str, Any]:
    return {
        "version": 1,
        "stack": stack,
        "settings": {"images": {"redis": REDIS_REPOSITORY}},
        "addons": {"cache": {"type": "redis", "version": "7", "disk": "1Gi"}},
        "apps": {"web": {"image": BUSYBOX_1, "command": SLEEP, "addons": ["cache"]}},
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from start_world(tmp_path_factory.mktemp("api-addons"), addon_doc)


def _env(container: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in inspect(container)["Config"]["Env"])
    return {key: value for key, value in pairs}


def test_addon_object_status_logs_and_metrics(world: World) -> None:
    server, token = world.server, world.tokens["addons"]
    listed = server.get("/api/v1/addons?type=redis", token).json()
    assert [a["name"] for a in listed["data"]] == ["cache"]
    cache = server.get("/api/v1/addons/cache", token).json()
    assert cache["type"] == "redis" and cache["version"] == "7"
    assert cache["disk"] == "1Gi" and cache["diskBytes"] == GIB
    assert cache["connectedApps"] == ["web"] and cache["volume"] == f"{world.stack}-cache-data"
    status = server.get("/api/v1/addons/cache/status", token).json()
    assert status["state"] == "running" and status["health"] == "healthy"
    assert server.get("/api/v1/addons/cache/logs?lines=5", token).text.strip()
    metrics = server.get("/api/v1/addons/cache/metrics", token).json()
    assert metrics["memory"]["usage"] > 0
    disk = metrics["disk"]
    assert disk["limit"] == GIB and disk["volume"] == f"{world.stack}-cache-data"
    assert disk["known"] is (disk["usage"] is not None)
    if disk["known"]:
        assert 0 <= disk["percentage"] < 100
    assert server.get("/api/v1/addons/nope", token).status == 404
    assert server.get("/api/v1/addons/cache", world.tokens["apps"]).status == 403


def test_credentials_need_their_scope_and_appear_nowhere_else(world: World) -> None:
    server = world.server
    assert server.get("/api/v1/addons/cache/credentials", world.tokens["addons"]).status == 403
    answer = server.get("/api/v1/addons/cache/credentials", world.tokens["creds"])
    assert answer.status == 200 and answer.headers["Cache-Control"] == "no-store"
    creds = answer.json()
    password = creds["password"]
    assert len(password) >= 24 and creds["host"] == "cache" and creds["port"] == 6379
    assert password in creds["connectionString"]
    admin = world.tokens["admin"]
    for path in ("/api/v1/addons", "/api/v1/addons/cache", "/api/v1/addons/cache/status",
                 "/api/v1/addons/cache/metrics", "/api/v1/apps/web", "/api/v1/plan",
                 "/api/v1/deployments", "/api/v1/deployments/1", "/api/v1/system/doctor",
                 "/api/v1/audit-events", "/openapi.json", "/metrics", "/health"):  # fmt: skip
        body = server.get(path, admin)
        assert body.status == 200, path
        assert password not in body.text, f"{path} leaks the add-on password"
    reads = [e for e in server.get("/api/v1/audit-events", admin).json()["data"]
             if e["action"] == "addon.credentials.read"]  # fmt: skip
    assert reads and reads[0]["actor"] == "creds"


def test_rotation_rolls_the_addon_and_connected_apps_onto_a_new_password(world: World) -> None:
    server, admin = world.server, world.tokens["admin"]
    old = server.get("/api/v1/addons/cache/credentials", admin).json()["password"]
    old_hash = server.get("/api/v1/apps/web", admin).json()["specHash"]
    old_ids = {
        name: inspect(name)["Id"] for name in (f"{world.stack}-web-1", f"{world.stack}-cache")
    }
    assert (
        server.post("/api/v1/addons/cache/rotate-credentials", world.tokens["creds"]).status == 403
    )
    answer = server.post("/api/v1/addons/cache/rotate-credentials", admin)
    assert answer.status == 202, answer.text
    assert answer.json() == {"addon": "cache", "status": "queued", "connectedApps": ["web"]}
    assert old not in answer.text
    new = server.get("/api/v1/addons/cache/credentials", admin).json()["password"]
    assert new != old
    # The view knows the new desired state at once: both are out of sync until the pass ran.
    assert server.get("/api/v1/apps/web", admin).json()["specHash"] != old_hash

    def converged() -> bool:
        web = server.get("/api/v1/apps/web/status", admin).json()
        cache = server.get("/api/v1/addons/cache/status", admin).json()
        return (web["sync"], web["state"], cache["sync"], cache["health"]) == (
            "synced", "running", "synced", "healthy"
        )  # fmt: skip

    wait_until(converged, 90, "the reconcile after rotation")
    assert _env(f"{world.stack}-cache")["REDIS_PASSWORD"] == new
    assert _env(f"{world.stack}-web-1")["CACHE_PASSWORD"] == new
    for name, old_id in old_ids.items():
        assert inspect(name)["Id"] != old_id, f"{name} still runs with the old password"
    assert any(e["action"] == "addon.rotate-credentials" for e in
               server.get("/api/v1/audit-events", admin).json()["data"])  # fmt: skip


def test_addon_restart(world: World) -> None:
    server = world.server
    name = f"{world.stack}-cache"
    before = inspect(name)
    answer = server.post("/api/v1/addons/cache/restart", world.tokens["trigger"])
    assert answer.status == 202 and answer.json()["containers"] == [name]
    wait_until(
        lambda: (
            inspect(name)["State"]["StartedAt"] > before["State"]["StartedAt"]
            and "addon/cache" not in world.server.state.restarting
        ),
        60,
        "the add-on to be restarted",
    )
    assert inspect(name)["Id"] == before["Id"]
    assert server.post("/api/v1/addons/nope/restart", world.tokens["trigger"]).status == 404
