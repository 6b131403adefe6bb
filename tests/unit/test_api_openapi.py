"""The OpenAPI document is generated from the route table and covers every served route."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiohttp import web

from reconciler.api.app import build_app
from reconciler.api.openapi import document
from reconciler.api.routes import ROUTES
from reconciler.daemon.service import Daemon
from reconciler.store.tokens import SCOPES


def _app() -> web.Application:
    # Building the app touches nothing on the daemon: a stand-in is enough here.
    return build_app(cast(Daemon, SimpleNamespace()))


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def test_every_registered_route_is_documented_and_nothing_else() -> None:
    app = _app()
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
    }
    spec = document(ROUTES)
    documented = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    assert served == documented
    assert len(served) == len(ROUTES)


def test_the_document_is_valid_openapi_3() -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    spec = json.loads(json.dumps(document(ROUTES)))  # what clients receive
    validator.validate(spec)


def test_operations_declare_scopes_auth_errors_and_rate_limits() -> None:
    spec = document(ROUTES)
    operation_ids = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            operation_ids.append(op["operationId"])
            scope = op.get("x-required-scope")
            if scope is None:
                assert op["security"] == [], (method, path)
            else:
                assert scope in SCOPES, (method, path)
                assert op["security"] == [{"bearerAuth": []}]
                assert {"401", "403"} <= set(op["responses"]), (method, path)
            if op.get("x-rate-limited"):
                assert "429" in op["responses"], (method, path)
            if "{" in path:
                assert "404" in op["responses"], (method, path)
            assert "500" in op["responses"]
    assert len(operation_ids) == len(set(operation_ids))


def test_every_reference_resolves() -> None:
    spec = document(ROUTES)
    for reference in _refs(spec):
        node: Any = spec
        for part in reference.removeprefix("#/").split("/"):
            node = node[part]
        assert node, reference


def test_only_the_credentials_route_needs_the_credentials_scope() -> None:
    scoped = [r.path for r in ROUTES if r.scope == "addons:credentials"]
    assert scoped == ["/api/v1/addons/{name}/credentials"]
    rotate = next(r for r in ROUTES if r.path.endswith("/rotate-credentials"))
    assert rotate.scope == "admin" and rotate.trigger
