"""The daemon's observed-state cache against the real engine: warm-cache passes heal drift and
apply pushes exactly as full observes would, and a broken event stream makes the next pass
prime again.

Which way a pass observed shows in its log line (`observed=cache` or `observed=primed (why)`);
webhook passes are always recorded, so each one can be matched to its line.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .engine_proxy import EngineProxy
from .support import api, containers, engine_skip_reason, wait_for
from .test_daemon import Daemon, World, _app, _env_of, _sign

pytestmark = [pytest.mark.docker]
if reason := engine_skip_reason():
    pytestmark.append(pytest.mark.skip(reason=reason))


@pytest.fixture
def world(tmp_path: Path, stack: str) -> Iterator[World]:
    w = World(tmp_path, stack)
    yield w
    w.stop_all()


def webhook_pass(daemon: Daemon) -> tuple[str, str]:
    """Trigger one pass with a generic webhook; its status and how it observed."""
    before = {d["id"] for d in daemon.history()}
    body = json.dumps({"ref": "refs/heads/main", "at": time.time()}).encode()
    status, _ = daemon.post("/api/v1/webhooks/generic", body, {"X-Signature-256": _sign(body)})
    assert status == 202
    new = wait_for(
        lambda: [d for d in daemon.history() if d["id"] not in before and d["status"] != "running"],
        60,
        "the webhook's pass",
    )
    return new[0]["status"], observed_by(daemon, new[0]["id"])


def observed_by(daemon: Daemon, deployment: int) -> str:
    line = wait_for(
        lambda: [ln for ln in daemon.log().splitlines() if f"deployment {deployment} " in ln],
        10,
        f"the log line of deployment {deployment}",
    )[0]
    message = str(json.loads(line).get("msg", line)) if line.startswith("{") else line
    return message.split("observed=", 1)[1]


def warm_up(daemon: Daemon) -> None:
    """Passes until one is answered from the cache (the first after changes primes)."""
    for _ in range(3):
        status, source = webhook_pass(daemon)
        assert status == "noop", status
        if source == "cache":
            return
    raise AssertionError(f"the cache never answered:\n{daemon.log()[-3000:]}")


def drift_pass_after(daemon: Daemon, known: set[int]) -> tuple[str, str]:
    new = wait_for(
        lambda: [
            d
            for d in daemon.history()
            if d["id"] not in known and d["trigger"] == "drift" and d["status"] != "running"
        ],
        30,
        "a drift pass",
    )
    return new[0]["status"], observed_by(daemon, new[0]["id"])


def running(stack: str) -> list[dict[str, str]]:
    return [c for c in containers(stack) if c["State"] == "running"]


def test_warm_cache_heals_drift_and_applies_pushes(world: World) -> None:
    world.push({"web": _app("1"), "api": _app("1")}, "first")
    daemon = world.start()  # polls every 300 s: passes come from webhooks and drift only
    wait_for(lambda: len(running(world.stack)) == 2, 30, "two apps")
    web = f"{world.stack}-web-1"

    warm_up(daemon)
    known = {d["id"] for d in daemon.history()}
    first_id = api().inspect_container(web)["Id"]
    api().remove_container(web, force=True)
    assert drift_pass_after(daemon, known) == ("succeeded", "cache")
    wait_for(
        lambda: [c for c in running(world.stack) if c["Name"] == web and c["Id"] != first_id],
        30,
        "the removed container to come back",
    )

    warm_up(daemon)
    known = {d["id"] for d in daemon.history()}
    api().stop(web, timeout=1)
    assert drift_pass_after(daemon, known) == ("succeeded", "cache")
    wait_for(lambda: len(running(world.stack)) == 2, 30, "the stopped container to run again")

    world.push({"web": _app("2"), "api": _app("1")}, "second")
    status, _ = webhook_pass(daemon)
    assert status == "succeeded"
    assert "V=2" in _env_of(web)
    # The first read after our own changes primes (maybe in a drift pass our replacement's
    # events caused); from then on no-op passes are answered from the cache.
    warm_up(daemon)
    assert webhook_pass(daemon) == ("noop", "cache")
    assert "V=2" in _env_of(web)


class CuttableEngineProxy(EngineProxy):
    """`cut()` drops the connections that follow the engine's events."""

    def __init__(self, path: str) -> None:
        self._event_streams: list[tuple[socket.socket, socket.socket]] = []
        super().__init__(path)

    def inspect(self, chunk: bytes, client: socket.socket, upstream: socket.socket) -> None:
        if _follows_events(chunk.split(b"\r\n")[0]):
            with self._lock:
                self._event_streams.append((client, upstream))

    def cut(self) -> int:
        with self._lock:
            streams, self._event_streams = self._event_streams, []
        for pair in streams:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        return len(streams)


def _follows_events(request_line: bytes) -> bool:
    """GET /events without `until`: the daemon's long-lived stream, not a pass's catch-up."""
    return (
        request_line.startswith(b"GET ")
        and b"/events?" in request_line
        and (b"until=" not in request_line)
    )


@pytest.fixture
def proxy() -> Iterator[CuttableEngineProxy]:
    directory = tempfile.mkdtemp(prefix="reconciler-it-")
    proxy = CuttableEngineProxy(os.path.join(directory, "engine.sock"))
    yield proxy
    proxy.close()
    with contextlib.suppress(OSError):
        os.unlink(proxy.path)
        os.rmdir(directory)


def test_a_broken_event_stream_makes_the_next_pass_prime(
    world: World, proxy: CuttableEngineProxy
) -> None:
    world.push({"web": _app("1")}, "first")
    daemon = world.start(env={"DOCKER_HOST": f"unix://{proxy.path}"})
    wait_for(lambda: running(world.stack), 30, "web")
    warm_up(daemon)

    assert proxy.cut() >= 1, "the daemon follows no event stream through the proxy"
    wait_for(lambda: "event stream" in daemon.log().split("observed=cache")[-1], 10, "the break")
    status, source = webhook_pass(daemon)
    assert status == "noop"
    assert source.startswith("primed"), source
    # Reconnected (after a short retry) and primed once more: trusted again.
    wait_for(lambda: webhook_pass(daemon)[1] == "cache", 30, "the cache to answer again")
