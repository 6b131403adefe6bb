"""Harness for the API tests: a real Daemon following a git repo made here, its aiohttp app
served on a free 127.0.0.1 port from an event loop in a thread, and a plain HTTP/SSE client.

(No tests here; the test_api* modules share it.)
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from reconciler.api.app import build_app
from reconciler.api.keys import STATE, ApiState
from reconciler.daemon.service import Daemon, DaemonSettings

from .support import BUSYBOX_1, SLEEP, git, new_stack_name, purge_stack

T = TypeVar("T")
TICKER = ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"]


def commit_stack(repo: Path, doc: Mapping[str, Any], message: str = "stack") -> str:
    """Write stack.yaml (JSON is YAML) and commit it on branch main; return the commit."""
    if not (repo / ".git").exists():
        repo.mkdir(parents=True, exist_ok=True)
        git(repo, "init", "-q", "-b", "main")
    (repo / "stack.yaml").write_text(json.dumps(doc, indent=2) + "\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


class ApiServer:
    """The app on 127.0.0.1:<free port>, its own event loop in a thread, and the queue worker."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="api-loop", daemon=True)
        self.app = build_app(daemon)
        self.runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=5)
        self.port = 0
        self._worker: asyncio.Task[None] | None = None

    @property
    def state(self) -> ApiState:
        return self.app[STATE]

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        self.thread.start()
        self.port = self.run(self._start())

    async def _start(self) -> int:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self._worker = asyncio.create_task(self.daemon.queue.worker())
        return int(self.runner.addresses[0][1])

    async def _stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        await self.runner.cleanup()

    def stop(self) -> None:
        self.run(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30,
    ) -> Answer:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        data = b"" if method == "POST" else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, headers=all_headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return Answer(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as e:
            return Answer(e.code, dict(e.headers), e.read())

    def get(self, path: str, token: str | None = None) -> Answer:
        return self.call("GET", path, token)

    def post(self, path: str, token: str | None = None, **headers: str) -> Answer:
        return self.call("POST", path, token, {k.replace("_", "-"): v for k, v in headers.items()})

    def sse(self, path: str, token: str) -> SseClient:
        return SseClient(self.port, path, token)


class SseClient:
    """Reads server-sent events; closing it is the client going away."""

    def __init__(self, port: int, path: str, token: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        self.response = self.connection.getresponse()

    def next_events(
        self, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 20
    ) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        current: dict[str, Any] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not until(events):
            # A timed-out socket file cannot be read again: wait at most until the deadline.
            assert self.connection.sock is not None
            self.connection.sock.settimeout(max(deadline - time.monotonic(), 0.1))
            try:
                line = self.response.readline().decode().rstrip("\n")
            except TimeoutError:
                break
            if line.startswith(("event:", "id:", "data:")):
                field, _, value = line.partition(":")
                current[field] = value.strip()
            elif line == "" and current:
                current["data"] = json.loads(current.get("data", "null"))
                events.append(current)
                current = {}
        return events

    def close(self) -> None:
        sock = self.connection.sock
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
        self.connection.close()


@dataclass
class World:
    stack: str
    commit: str
    daemon: Daemon
    server: ApiServer
    tokens: dict[str, str]


def start_world(root: Path, doc_for: Callable[[str], dict[str, Any]]) -> Iterator[World]:
    """A committed stack, a daemon that ran one pass on it, its API, and tokens per scope set."""
    stack = new_stack_name()
    commit = commit_stack(root / "repo", doc_for(stack))
    daemon = Daemon(DaemonSettings(repo=str(root / "repo"), state_dir=root / "state"))
    server: ApiServer | None = None
    try:
        result = daemon.controller.run_pass("api")
        assert result.status == "succeeded", result
        tokens = {
            name: daemon.tokens.create(name, scopes)
            for name, scopes in {
                "apps": ["apps:read"],
                "addons": ["addons:read"],
                "creds": ["addons:credentials"],
                "deploy": ["deployments:read"],
                "trigger": ["reconcile:trigger", "apps:read"],
                "admin": ["admin"],
            }.items()
        }
        server = ApiServer(daemon)
        server.start()
        yield World(stack, commit, daemon, server, tokens)
    finally:
        if server is not None:
            server.stop()
        daemon.db.close()
        purge_stack(stack)


def wait_until(condition: Callable[[], T], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def apps_doc(stack: str) -> dict[str, Any]:
    return {
        "version": 1,
        "stack": stack,
        "apps": {
            "web": {
                "image": BUSYBOX_1,
                "command": SLEEP,
                "replicas": 2,
                "environment": "staging",
                "resources": {"cpu": "0.5", "memory": "64Mi"},
            },
            "ticker": {"image": BUSYBOX_1, "command": TICKER},
        },
    }
