"""Pure pieces of the API: workload state, usage maths, log lines, idempotency, redaction."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.api.errors import ApiError, redact
from reconciler.api.idempotency import IdempotencyCache
from reconciler.api.logs import LineSplitter, parse_line, parse_lines, parse_since, stamp_ns
from reconciler.api.resources import workload_status
from reconciler.api.usage import cpu, memory, network, total


def _row(replicas: int, ready: int, *containers: tuple[str, str | None]) -> dict[str, Any]:
    return {
        "replicas": replicas,
        "readyReplicas": ready,
        "sync": "synced",
        "revision": "abc",
        "containers": [
            {"name": f"s-web-{i}", "state": state, "status": state, "health": health}
            for i, (state, health) in enumerate(containers, start=1)
        ],
    }


@pytest.mark.parametrize(
    ("row", "state", "health"),
    [
        (_row(2, 2, ("running", None), ("running", "healthy")), "running", "healthy"),
        (_row(2, 1, ("running", None), ("exited", None)), "degraded", "unhealthy"),
        (_row(1, 0, ("exited", None)), "failed", "unhealthy"),
        (_row(1, 0, ("running", "starting")), "starting", "starting"),
        (_row(1, 0), "pending", "unknown"),
        (_row(0, 0), "stopped", "unknown"),
        (_row(1, 0, ("running", "unhealthy")), "failed", "unhealthy"),
    ],
)
def test_workload_state_and_health(row: dict[str, Any], state: str, health: str) -> None:
    status = workload_status(row, declared=True)
    assert (status["state"], status["health"]) == (state, health)
    assert status["revision"] == "abc"


def test_orphans_and_mixed_revisions() -> None:
    row = {**_row(0, 0, ("running", None)), "revision": ["a", "b"], "sync": "orphan"}
    status = workload_status(row, declared=False)
    assert status["state"] == "orphaned"
    assert status["revision"] is None and status["revisions"] == ["a", "b"]


SAMPLE = {
    "cpu_stats": {"cpu_usage": {"total_usage": 3_000_000_000}, "system_cpu_usage": 20_000_000_000,
                  "online_cpus": 2},
    "precpu_stats": {"cpu_usage": {"total_usage": 2_000_000_000},
                     "system_cpu_usage": 10_000_000_000},
    "memory_stats": {"usage": 150, "limit": 1000, "stats": {"total_inactive_file": 50}},
    "networks": {"eth0": {"rx_bytes": 10, "tx_bytes": 5}, "eth1": {"rx_bytes": 1, "tx_bytes": 1}},
}  # fmt: skip


def test_usage_from_a_stats_sample() -> None:
    assert cpu(SAMPLE, 500_000_000) == {
        "usage": 0.2, "limit": 0.5, "percentage": 40.0, "unit": "cores"
    }  # fmt: skip
    assert cpu(SAMPLE, None)["limit"] == 2  # no declared limit: the host's CPUs
    assert memory(SAMPLE) == {"usage": 100, "limit": 1000, "percentage": 10.0, "unit": "bytes"}
    assert network(SAMPLE)["usage"] == 17 and network(SAMPLE)["percentage"] is None
    assert cpu({}, None)["usage"] == 0.0  # a stopped container's empty sample


def test_totals_sum_usage_and_declared_limits() -> None:
    parts = [{"memory": memory(SAMPLE)}, {"memory": memory(SAMPLE)}]
    assert total(parts, "memory", 400)["limit"] == 800
    assert total(parts, "memory")["limit"] == 1000  # undeclared: they share the host
    assert total(parts, "memory")["usage"] == 200
    assert total([], "cpu") == {"usage": 0.0, "limit": None, "percentage": None, "unit": "cores"}


def test_log_lines() -> None:
    assert stamp_ns("2026-01-02T03:04:05.5Z") == stamp_ns("2026-01-02T03:04:05Z") + 500_000_000
    assert stamp_ns("garbage") == 0
    line = parse_line("2026-01-02T03:04:05.000000001Z hello world", "c1")
    assert line.message == "hello world" and line.at_ns % 10 == 1
    assert line.render() == "2026-01-02T03:04:05.000000001Z c1 hello world"
    splitter = LineSplitter()
    assert splitter.feed(b"a\nb") == ["a"]
    assert splitter.feed(b"c\r\n") == ["bc"]
    assert splitter.flush() == []


def test_log_parameters() -> None:
    assert parse_since(None) is None
    assert parse_since("1970-01-01T00:01:00Z") == 60.0
    assert parse_since("1970-01-01T00:01:00 00:00") == 60.0  # '+' decoded as a space
    assert parse_lines(None) == 100
    for bad in ("0", "10001", "x"):
        with pytest.raises(ApiError):
            parse_lines(bad)
    with pytest.raises(ApiError):
        parse_since("last tuesday")


def test_idempotency_cache() -> None:
    now = [0.0]
    cache = IdempotencyCache(clock=lambda: now[0])
    key = cache.key("token:a", "POST", "/api/v1/reconcile", "k1")
    assert cache.begin(key, "f") is None
    with pytest.raises(ApiError) as busy:
        cache.begin(key, "f")
    assert busy.value.status == 409
    cache.finish(key, "f", 202, b"{}", "application/json")
    stored = cache.begin(key, "f")
    assert stored is not None and stored.status == 202
    with pytest.raises(ApiError) as different:
        cache.begin(key, "other body")
    assert different.value.status == 422
    now[0] += 25 * 3600
    assert cache.begin(key, "f") is None  # expired after 24 h
    cache.finish(key, "f", 429, b"", "application/json")
    assert cache.begin(key, "f") is None  # rate-limited answers are not replayed
    with pytest.raises(ApiError):
        cache.key("token:a", "POST", "/x", "")


def test_redaction() -> None:
    text = "fetch https://user:s3cret@example.com/repo.git failed; token rcl_abcDEF123"
    assert redact(text) == "fetch https://***@example.com/repo.git failed; token rcl_***"
