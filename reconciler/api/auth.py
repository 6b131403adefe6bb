"""Bearer-token authentication and per-route scopes; failures are audited."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from reconciler.api.errors import error_response
from reconciler.api.keys import DAEMON

#: Routes anyone may call: liveness, and webhooks (they carry their own signatures).
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC_PREFIXES = ("/health", "/api/v1/webhooks/", "/api/v1/openapi.json")


def requires(scope: str) -> Callable[[Handler], Handler]:
    """Decorator: the handler needs a token with `scope` (or admin)."""

    def mark(handler: Handler) -> Handler:
        handler.scope = scope  # type: ignore[attr-defined]
        return handler

    return mark


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(PUBLIC_PREFIXES) or not request.path.startswith("/api/"):
        return await handler(request)
    daemon = request.app[DAEMON]
    peer = request.remote or "?"
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    info = daemon.tokens.verify(token) if token else None
    if info is None:
        daemon.audit(
            "auth.failed", f"{request.method} {request.path}: missing or unknown token", peer
        )
        return error_response(401, "missing or unknown API token")
    scope = getattr(request.match_info.handler, "scope", None)
    if scope is not None and not info.allows(scope):
        daemon.audit(
            "auth.forbidden", f"{request.method} {request.path} needs {scope}", peer, info.name
        )
        return error_response(403, f"this token lacks the {scope} scope")
    request["token"] = info
    return await handler(request)
