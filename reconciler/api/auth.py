"""Middlewares that read the route table: bearer-token scopes, query parameters,
Idempotency-Key and rate limits.

Authentication failures and rate-limited triggers start nothing; the failures are audited.
"""

from __future__ import annotations

import logging

from aiohttp import web

from reconciler.api.errors import ApiError, Handler, error_response
from reconciler.api.keys import DAEMON, STATE, TOKEN
from reconciler.api.ratelimit import retry_after
from reconciler.api.routing import Route

log = logging.getLogger("reconciler.api")


def route_of(request: web.Request) -> Route | None:
    return request.app[STATE].by_route.get(request.match_info.route)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    spec = route_of(request)
    if spec is not None and spec.scope is None:
        return await handler(request)  # public; webhooks carry their own signatures
    if spec is None and not request.path.startswith("/api/"):
        return await handler(request)  # not found outside the API: nothing to protect
    daemon = request.app[DAEMON]
    peer = request.remote or "?"
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    info = daemon.tokens.verify(token) if token else None
    if info is None:
        daemon.audit(
            "auth.failed", f"{request.method} {request.path}: missing or unknown token", peer
        )
        return error_response(401, "missing or unknown API token")
    if spec is not None and spec.scope is not None and not info.allows(spec.scope):
        daemon.audit(
            "auth.forbidden", f"{request.method} {request.path} needs {spec.scope}", peer, info.name
        )
        return error_response(403, f"this token lacks the {spec.scope} scope")
    request[TOKEN] = info
    return await handler(request)


def _principal(request: web.Request) -> str:
    token = request.get(TOKEN)
    return f"token:{token.name}" if token is not None else f"peer:{request.remote or '?'}"


@web.middleware
async def idempotency_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    spec = route_of(request)
    header = request.headers.get("Idempotency-Key")
    # Webhooks dedupe by their providers' delivery ids instead (webhooks.py).
    if spec is None or not spec.trigger or spec.scope is None or header is None:
        return await handler(request)
    cache = request.app[STATE].idempotency
    key = cache.key(_principal(request), request.method, request.path, header)
    fingerprint = cache.fingerprint(request.query_string.encode() + b"\0" + await request.read())
    stored = cache.begin(key, fingerprint)
    if stored is not None:
        return web.Response(
            status=stored.status,
            body=stored.body,
            content_type=stored.content_type,
            headers={"Idempotent-Replayed": "true"},
        )
    try:
        response = await handler(request)
    except ApiError as e:
        response = error_response(e.status, e.message, e.code, e.headers)
    except BaseException:
        cache.abandon(key)
        raise
    body = response.body if isinstance(response, web.Response) else None
    if isinstance(body, bytes):
        cache.finish(key, fingerprint, response.status, body, response.content_type)
    else:
        cache.abandon(key)
    return response


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    spec = route_of(request)
    if spec is None or not spec.trigger:
        return await handler(request)
    state = request.app[STATE]
    limiter = state.webhooks if spec.scope is None else state.triggers
    principal = _principal(request)
    wait = limiter.take(principal)
    if wait > 0:
        seconds = retry_after(wait)
        log.warning("rate limited %s %s for %s", request.method, request.path, principal)
        return error_response(
            429,
            f"too many triggers from this {principal.split(':')[0]}; retry in {seconds} s",
            headers={"Retry-After": seconds},
        )
    return await handler(request)


@web.middleware
async def query_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An undeclared query parameter is a 400: a typo such as ?stauts= must not filter nothing."""
    spec = route_of(request)
    if spec is not None:
        known = {p.name for p in spec.params if p.where == "query"}
        unknown = sorted(set(request.query) - known)
        if unknown:
            allowed = ", ".join(sorted(known)) or "none"
            raise ApiError(400, f"unknown query parameter {unknown[0]!r} (allowed: {allowed})")
    return await handler(request)
