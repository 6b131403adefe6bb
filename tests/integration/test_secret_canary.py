"""Secrets never leak: a unique marker goes into every kind of secret, the daemon runs its
scenarios, and the marker may appear only where it must be stored or was asked for.

Marked: an add-on password (seeded in the credentials store), a ${secret:...} value, the
webhook secret and an API token. Searched: the daemon's log, every API response but the
credentials endpoint, CLI output (plan, status, history, validate), the labels of everything
managed, and a full dump of the state database.
"""

from __future__ import annotations

import json
import os
import sqlite3
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import api, cli, containers, describe, engine_skip_reason, wait_for
from .test_daemon import World, _sign

pytestmark = [pytest.mark.docker]
if reason := engine_skip_reason():
    pytestmark.append(pytest.mark.skip(reason=reason))

HOLD = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]


def _get(url: str, token: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as e:
        return int(e.code), e.read().decode()


@pytest.fixture
def world(tmp_path: Path, stack: str) -> Iterator[World]:
    w = World(tmp_path, stack)
    yield w
    w.stop_all()


def test_canary_appears_only_where_it_must(world: World, tmp_path: Path) -> None:
    canary = f"canary{uuid.uuid4().hex[:12]}"
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "api-key").write_text(f"{canary}-secret\n")
    state = world.root / "state"
    creds = state / "credentials" / world.stack / "cache.json"
    creds.parent.mkdir(parents=True)
    creds.write_text(json.dumps({"user": "app", "password": f"{canary}pw", "database": "app"}))
    token = cli("token", "create", "--name", "ops", "--scopes", "admin", "--state-dir", state)
    assert token.returncode == 0, describe(token)
    api_token = token.stdout.strip()
    doc_apps = {
        "web": {
            "image": "reconciler-fixture/postgres:15",
            "command": HOLD,
            "addons": ["cache"],
            "env": {"API_KEY": "${secret:api-key}"},
        }
    }
    raw = json.dumps(
        {
            "version": 1,
            "stack": world.stack,
            "settings": {"images": {"redis": "reconciler-fixture/redis"}},
            "apps": doc_apps,
            "addons": {"cache": {"type": "redis", "version": "7", "tier": "starter"}},
        }
    )
    world.push({}, "with secrets", raw=raw)
    os.environ["RECONCILER_SECRETS_DIR"] = str(secrets)
    try:
        daemon = world.start()
    finally:
        del os.environ["RECONCILER_SECRETS_DIR"]
    wait_for(lambda: len(containers(world.stack)) == 2, 90, "the add-on and the app")
    box = f"{world.stack}-web-1"
    wait_for(lambda: api().inspect_container(box)["State"]["Running"], 30, "the app")
    env = api().inspect_container(box)["Config"]["Env"]
    assert f"API_KEY={canary}-secret" in env and any(f"{canary}pw" in e for e in env)

    body = b'{"ref": "refs/heads/main"}'
    daemon.post("/api/v1/webhooks/github", body, {"X-Hub-Signature-256": _sign(body)})
    daemon.post("/api/v1/webhooks/github", body, {"X-Hub-Signature-256": "sha256=" + canary})

    # A backup of the add-on whose password is the canary, through the API, and its records.
    started = daemon.post(
        "/api/v1/addons/cache/backup", b"", {"Authorization": f"Bearer {api_token}"}
    )
    assert started[0] == 202, started
    seen: dict[str, str] = {"POST /api/v1/addons/cache/backup": json.dumps(started[1])}
    base = daemon.url("")

    def backup_done() -> bool:
        listed = json.loads(_get(base + "/api/v1/backups", api_token)[1])["data"]
        return bool(listed) and listed[0]["status"] != "running"

    wait_for(backup_done, 60, "the backup")
    for path in (
        "/health", "/metrics", "/openapi.json", "/api/v1/apps", "/api/v1/apps/web",
        "/api/v1/apps/web/status", "/api/v1/apps/web/logs?lines=20", "/api/v1/addons",
        "/api/v1/addons/cache", "/api/v1/addons/cache/status", "/api/v1/deployments",
        "/api/v1/plan", "/api/v1/system/doctor", "/api/v1/audit-events", "/api/v1/apps/nope",
        "/api/v1/deployments/999999", "/api/v1/backups", "/api/v1/addons/cache/backups",
        "/api/v1/backup-sources", "/api/v1/backups/1", "/api/v1/restores",
    ):  # fmt: skip
        status, text = _get(base + path, api_token)
        assert status < 500, (path, status, text)
        seen[f"GET {path}"] = text
    status, text = _get(base + "/api/v1/addons/cache/credentials", api_token)
    assert status == 200 and f"{canary}pw" in text, "the credentials endpoint is where it shows"

    run_args = ("--state-dir", state, "--secrets-dir", secrets)
    repo = world.root / "state" / "repo"
    for args in (
        ("plan", repo, "--json"), ("status", repo, "--json"), ("validate", repo),
        ("backups", repo, "--json"), ("backup", "cache", repo), ("restores", repo, "--json"),
    ):  # fmt: skip
        result = cli(*args, *run_args)
        seen[" ".join(map(str, args[:1]))] = result.stdout + result.stderr
    seen["history"] = cli("history", "--json", "--state-dir", state).stdout
    for container in containers(world.stack):
        seen[f"labels {container['Name']}"] = json.dumps(container["Labels"])
    seen["daemon log"] = daemon.log()
    with sqlite3.connect(state / "state.db") as db:
        seen["state.db"] = "\n".join(db.iterdump())

    # Not vacuous: the places searched do hold the stack's data.
    assert '"web"' in seen["GET /api/v1/apps"] and world.stack in seen["labels " + box]
    assert "API_KEY" in seen["plan"] or "API_KEY" in seen["daemon log"] or seen["history"]
    assert "webhook.rejected" in seen["GET /api/v1/audit-events"]
    assert '"completed"' in seen["GET /api/v1/backups/1"], seen["GET /api/v1/backups/1"]
    leaks = {where: text for where, text in seen.items() if canary in text or api_token in text}
    assert not leaks, f"the canary leaked into: {sorted(leaks)}"
