"""The error envelope: {"error": {"code", "message", "status"}}, never a stack trace or secret."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from reconciler.state.errors import DockerUnavailable, ManifestErrors, ReconcilerError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger("reconciler.api")

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal",
    503: "unavailable",
}

# Messages of our own errors are written for users, but may quote a remote URL or a token.
_URL_CREDENTIALS = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
_TOKENS = re.compile(r"\b(rcl_|ghp_|glpat-|gho_|github_pat_)[A-Za-z0-9_\-]+")


class ApiError(Exception):
    """Raised by views and helpers; becomes the error envelope with this status."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = dict(headers or {})


def redact(message: str) -> str:
    """`message` without credentials embedded in URLs or token-looking words."""
    return _TOKENS.sub(r"\1***", _URL_CREDENTIALS.sub(r"\1***@", message))


def error_response(
    status: int,
    message: str,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    body = {
        "error": {
            "code": code or CODES.get(status, "error"),
            "message": redact(message),
            "status": status,
        }
    }
    return web.json_response(body, status=status, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as e:
        return error_response(e.status, e.message, e.code, e.headers)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        # Keep what the status needs (Allow on a 405); drop the rest of aiohttp's headers.
        kept = {k: v for k, v in e.headers.items() if k in ("Allow", "Retry-After")}
        return error_response(e.status, e.reason or "error", headers=kept)
    except DockerUnavailable as e:
        return error_response(503, str(e))
    except ManifestErrors as e:
        # Only a checkout that was never valid gets here; refused commits are not checked out.
        return error_response(503, f"the checked-out manifests do not load: {e.render()}")
    except ReconcilerError as e:
        log.error("%s %s failed: %s", request.method, request.path, redact(str(e)))
        return error_response(500, str(e))
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal error; see the reconciler's log")
