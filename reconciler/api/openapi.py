"""The OpenAPI 3.0 document, generated from the route table so it describes what is served."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from reconciler import __version__
from reconciler.api.errors import CODES
from reconciler.api.idempotency import KEY_PATTERN
from reconciler.api.routing import JSON, Param, Route
from reconciler.api.schemas import SCHEMAS, ref

IDEMPOTENCY_KEY = Param(
    "Idempotency-Key",
    "header",
    {"type": "string", "pattern": KEY_PATTERN.pattern},
    "Repeat a trigger safely: within 24 h the same key gets the first answer and starts nothing.",
)
_DESCRIPTIONS = {
    400: "The request's parameters are invalid.",
    401: "The bearer token is missing or unknown.",
    403: "The token lacks the scope this operation needs.",
    404: "No such object.",
    405: "The path does not allow this method.",
    409: "The object's state does not allow this now.",
    413: "The request body is too large.",
    422: "The request is well-formed but cannot be carried out.",
    429: "Too many triggers: wait for Retry-After seconds.",
    500: "Unexpected failure; the reconciler's log has details.",
    503: "Docker or the checked-out revision is not available yet.",
}
INFO = {
    "title": "reconciler API",
    "version": __version__,
    "description": (
        "Read what the reconciler knows about the stack and trigger work. Desired state is "
        "never edited here: that is what git is for. Authenticate with `Authorization: Bearer "
        "TOKEN`; each operation names the scope it needs in `x-required-scope` (the `admin` "
        'scope grants every scope). Errors are `{"error": {"code", "message", "status"}}`.'
    ),
}


def _parameter(param: Param) -> dict[str, Any]:
    return {
        "name": param.name,
        "in": param.where,
        "required": param.required or param.where == "path",
        "description": param.description,
        "schema": param.schema,
    }


def _success(route: Route) -> dict[str, Any]:
    content: dict[str, Any] = {}
    for media in (route.media, *route.also_media):
        if media == JSON:
            schema: dict[str, Any] = ref(route.response) if route.response else {"type": "object"}
        else:
            schema = {"type": "string"}
        content[media] = {"schema": schema}
    return {"description": route.summary, "content": content}


def _error_statuses(route: Route) -> list[int]:
    statuses = set(route.errors) | {500}
    if route.scope is not None:
        statuses |= {401, 403}
    if route.trigger:
        statuses.add(429)
    if "{" in route.path:
        statuses.add(404)
    if any(p.where in ("query", "header") for p in route.params) or route.trigger:
        statuses.add(400)
    return sorted(statuses)


def _operation(route: Route, operation_id: str) -> dict[str, Any]:
    params = list(route.params) + ([IDEMPOTENCY_KEY] if route.trigger else [])
    responses: dict[str, Any] = {str(s): _success(route) for s in (route.status, *route.also)}
    for status in _error_statuses(route):
        responses[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": [_parameter(p) for p in params],
        "responses": responses,
        "security": [] if route.scope is None else [{"bearerAuth": []}],
        **route.extra,
    }
    if route.description:
        operation["description"] = route.description
    if route.scope is not None:
        operation["x-required-scope"] = route.scope
    if route.trigger:
        operation["x-rate-limited"] = True
    if route.body:
        operation["requestBody"] = {
            "required": route.body_required,
            "content": {JSON: {"schema": ref(route.body)}},
        }
    return operation


def _error_responses() -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status in CODES:
        response: dict[str, Any] = {
            "description": _DESCRIPTIONS.get(status, CODES[status]),
            "content": {JSON: {"schema": ref("Error")}},
        }
        if status == 429:
            response["headers"] = {
                "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
            }
        responses[f"E{status}"] = response
    return responses


def document(routes: Sequence[Route]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    seen: Counter[str] = Counter()
    for route in routes:
        name = route.handler.__name__
        seen[name] += 1
        operation_id = name if seen[name] == 1 else f"{name}_{seen[name]}"
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, operation_id)
    tags = sorted({route.tag for route in routes})
    return {
        "openapi": "3.0.3",
        "info": INFO,
        "servers": [{"url": "/"}],
        "tags": [{"name": tag} for tag in tags],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "responses": _error_responses(),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
