"""Signed git webhooks: verify before parsing, dedupe deliveries, trigger one fetch-and-apply.

Crash safety: a delivery is remembered only once its pass is queued, so a process killed
before that has answered nothing, the provider redelivers and the redelivery triggers. Killed
after that, a redelivery is a duplicate, and the pass that died with the process is made up by
the startup pass, which always fetches. A copy that slips through the check only queues one
more pass, which the single-flight queue coalesces and which finds nothing left to do.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from reconciler.api.errors import error_response
from reconciler.api.keys import DAEMON
from reconciler.daemon.signatures import PROVIDERS, describe, pushed_branch, verify
from reconciler.state.faults import crash_point
from reconciler.store.db import Database

log = logging.getLogger("reconciler.webhooks")
MAX_BODY = 1024 * 1024
DEDUPE_WINDOW = timedelta(hours=24)


def webhook_secret(provider: str) -> bytes:
    """Per-provider secret, else the shared one; from the environment or a file it names."""
    for name in (f"RECONCILER_WEBHOOK_SECRET_{provider.upper()}", "RECONCILER_WEBHOOK_SECRET"):
        if os.environ.get(name):
            return os.environ[name].encode()
        path = os.environ.get(f"{name}_FILE")
        if path:
            try:
                return Path(path).read_bytes().strip()
            except OSError:
                log.error("webhook secret file %s cannot be read", path)
    return b""


async def _read_limited(request: web.Request) -> bytes | None:
    if request.content_length is not None and request.content_length > MAX_BODY:
        return None
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body.extend(chunk)
        if len(body) > MAX_BODY:
            return None
    return bytes(body)


def _key(provider: str, delivery_id: str) -> str:
    return f"{provider}:{delivery_id}"


def _seen_before(db: Database, provider: str, delivery_id: str) -> bool:
    cutoff = (datetime.now(UTC) - DEDUPE_WINDOW).isoformat()
    rows = db.query(
        "SELECT 1 FROM webhook_deliveries WHERE delivery_id = ? AND received_at >= ?",
        (_key(provider, delivery_id), cutoff),
    )
    return bool(rows)


def _remember(db: Database, provider: str, delivery_id: str | None) -> None:
    """Record a delivery as handled: only once what it asked for is queued (or needs nothing)."""
    if not delivery_id:
        return
    now = datetime.now(UTC)
    cutoff = (now - DEDUPE_WINDOW).isoformat()
    with db.transaction() as conn:
        conn.execute("DELETE FROM webhook_deliveries WHERE received_at < ?", (cutoff,))
        # REPLACE: two copies of one delivery can both pass the check before either is
        # remembered; the second must not fail on the primary key.
        conn.execute(
            "INSERT OR REPLACE INTO webhook_deliveries (delivery_id, provider, received_at) "
            "VALUES (?, ?, ?)",
            (_key(provider, delivery_id), provider, now.isoformat()),
        )


async def handle_webhook(request: web.Request) -> web.Response:
    provider = request.match_info["provider"]
    if provider not in PROVIDERS:
        return error_response(404, f"unknown webhook provider {provider!r}")
    body = await _read_limited(request)
    if body is None:
        return error_response(413, f"webhook bodies are limited to {MAX_BODY} bytes")
    daemon = request.app[DAEMON]
    peer = request.remote or "?"
    if not verify(provider, webhook_secret(provider), request.headers, body):
        daemon.audit(
            "webhook.rejected", f"{provider} webhook with a bad or missing signature", peer
        )
        return error_response(401, "invalid or missing webhook signature")
    delivery = describe(provider, request.headers)
    if delivery.event == "ping":
        return web.json_response({"status": "pong"})
    if delivery.delivery_id and _seen_before(daemon.db, provider, delivery.delivery_id):
        return web.json_response({"status": "duplicate", "delivery": delivery.delivery_id})
    crash_point("webhook.verified")
    ignored = _ignored_reason(delivery.event, body, daemon.branch)
    if isinstance(ignored, web.Response):
        return ignored
    if ignored is not None:
        _remember(daemon.db, provider, delivery.delivery_id)
        return web.json_response({"status": "ignored", "reason": ignored})
    # The payload is only a hint: the pass fetches and trusts nothing but the repository.
    daemon.audit("webhook.accepted", f"{provider} push", peer)
    daemon.queue.submit("webhook")
    crash_point("webhook.queued")
    # No await between queueing and remembering, so the pass cannot have started before the
    # delivery is recorded, and a process killed before this line leaves it unrecorded.
    _remember(daemon.db, provider, delivery.delivery_id)
    crash_point("webhook.recorded")
    return web.json_response({"status": "queued"}, status=202)


def _ignored_reason(event: str, body: bytes, branch: str) -> str | web.Response | None:
    """Why this delivery needs no pass, None when it needs one, or the answer to a bad body."""
    if event != "push":
        return f"event {event!r}"
    try:
        payload = json.loads(body) if body.strip() else {}
    except ValueError:
        return error_response(400, "the webhook body is not JSON")
    pushed = pushed_branch(payload)
    if pushed is not None and pushed != branch:
        return f"push to branch {pushed!r}"
    return None
