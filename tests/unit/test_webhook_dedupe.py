"""Webhook deduplication order: a delivery is remembered only once its pass is queued.

The real handler on a real aiohttp server and a real SQLite file; only the daemon around them is
a stand-in, whose queue can fail the way a process killed before queueing would.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from reconciler.api.keys import DAEMON
from reconciler.api.webhooks import DEDUPE_WINDOW, handle_webhook
from reconciler.daemon.service import Daemon
from reconciler.store.db import Database

SECRET = "unit-webhook-secret"
BODY = b'{"ref": "refs/heads/main"}'


class _Queue:
    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.fail = False

    def submit(self, trigger: str) -> None:
        if self.fail:
            raise RuntimeError("the process died before the pass was queued")
        self.submitted.append(trigger)


class _Daemon:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.branch = "main"
        self.queue = _Queue()

    def audit(self, action: str, detail: str, source: str, actor: str = "") -> None:
        pass


@pytest.fixture
def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Daemon]:
    monkeypatch.setenv("RECONCILER_WEBHOOK_SECRET", SECRET)
    yield _Daemon(Database(tmp_path / "state.db"))


def _deliver(daemon: _Daemon, *deliveries: tuple[str, str]) -> list[tuple[int, Any]]:
    """POST each (delivery id, event) in turn; the answers' (status, body status)."""

    async def run() -> list[tuple[int, Any]]:
        app = web.Application()
        app[DAEMON] = cast(Daemon, daemon)
        app.router.add_post("/hooks/{provider}", handle_webhook)
        signature = "sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
        answers = []
        async with TestClient(TestServer(app)) as client:
            for delivery, event in deliveries:
                headers = {"X-Hub-Signature-256": signature, "X-GitHub-Delivery": delivery,
                           "X-GitHub-Event": event}  # fmt: skip
                try:
                    response = await client.post("/hooks/github", data=BODY, headers=headers)
                    json = response.content_type == "application/json"
                    body = await response.json() if json else {}
                    answers.append((response.status, body.get("status")))
                finally:
                    daemon.queue.fail = False  # only the first delivery dies
        return answers

    return asyncio.run(run())


def test_a_delivery_is_remembered_once_queued_and_then_a_duplicate(daemon: _Daemon) -> None:
    answers = _deliver(daemon, ("d-1", "push"), ("d-1", "push"), ("d-2", "push"))
    assert answers == [(202, "queued"), (200, "duplicate"), (202, "queued")]
    assert daemon.queue.submitted == ["webhook", "webhook"]


def test_a_delivery_whose_pass_was_never_queued_triggers_when_redelivered(
    daemon: _Daemon,
) -> None:
    daemon.queue.fail = True
    answers = _deliver(daemon, ("d-1", "push"), ("d-1", "push"))
    assert answers[0][0] == 500, "the first copy died before its pass was queued"
    assert answers[1] == (202, "queued"), "so its redelivery must not be taken for a duplicate"
    assert daemon.queue.submitted == ["webhook"]


def test_ignored_events_are_remembered_too(daemon: _Daemon) -> None:
    answers = _deliver(daemon, ("d-1", "issues"), ("d-1", "issues"))
    assert answers == [(200, "ignored"), (200, "duplicate")]
    assert daemon.queue.submitted == []


def test_deliveries_are_forgotten_after_the_window(daemon: _Daemon) -> None:
    old = (datetime.now(UTC) - DEDUPE_WINDOW - timedelta(minutes=1)).isoformat()
    daemon.db.execute(
        "INSERT INTO webhook_deliveries (delivery_id, provider, received_at) VALUES (?, ?, ?)",
        ("github:d-old", "github", old),
    )
    assert _deliver(daemon, ("d-old", "push")) == [(202, "queued")]
    rows = daemon.db.query("SELECT received_at FROM webhook_deliveries")
    assert [row["received_at"] > old for row in rows] == [True], "the window starts again"
