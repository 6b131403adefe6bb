"""Schemathesis against the served OpenAPI document: generated requests to every operation
(event streams aside) never get a server error, and every answer conforms to the document."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from .support import engine_skip_reason
from .test_api_harness import World, apps_doc, start_world

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

pytestmark = [pytest.mark.docker]
if reason := engine_skip_reason():
    pytestmark.append(pytest.mark.skip(reason=reason))

#: Streams never end by themselves; the SSE tests cover them.
STREAMS = r"^/api/v1/(events|apps/\{name\}/logs|addons/\{name\}/logs)$"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from start_world(tmp_path_factory.mktemp("api-schema"), apps_doc)


@pytest.fixture(scope="module")
def api_schema(world: World) -> Any:
    url = f"http://127.0.0.1:{world.server.port}"
    return schemathesis.openapi.from_url(f"{url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema").exclude(path_regex=STREAMS)


@schema.parametrize()  # type: ignore[untyped-decorator,misc,unused-ignore]
@hypothesis.settings(  # type: ignore[untyped-decorator,misc,unused-ignore]
    max_examples=12,
    # Same examples on every run so CI is repeatable; FUZZ_RANDOM=1 explores new ones.
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    database=None,
)
def test_no_server_errors_and_conforming_answers(case: Any, world: World) -> None:
    base_url = f"http://127.0.0.1:{world.server.port}"
    case.call_and_validate(
        base_url=base_url,
        headers={"Authorization": f"Bearer {world.tokens['admin']}"},
        timeout=60,
    )
