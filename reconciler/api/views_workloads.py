"""Views of one app or add-on: object, status, logs (and following them), metrics, restart,
credentials and their rotation. Objects and status come from the in-memory view; logs, metrics
and credentials are read on demand."""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from reconciler.api import actions
from reconciler.api.errors import ApiError
from reconciler.api.keys import DAEMON
from reconciler.api.listing import query_flag
from reconciler.api.logs import Follower, LogLine, parse_lines, parse_since, read_logs
from reconciler.api.resources import container_names
from reconciler.api.sse import format_event, open_stream, pump
from reconciler.api.usage import NANOS, container_usage, disk, total
from reconciler.api.views import api_state, caller
from reconciler.observed.port import DockerPort
from reconciler.state.errors import ReconcilerError

QUEUE_LINES = 1000
STATUS_FIELDS = ("replicas", "readyReplicas", "health", "revision", "sync", "containers")


def _name(request: web.Request) -> str:
    return request.match_info["name"]


async def _object(request: web.Request, kind: str) -> dict[str, Any]:
    snapshot = await api_state(request).view.snapshot()
    return snapshot.get(kind, _name(request))


async def get_app(request: web.Request) -> web.Response:
    return web.json_response(await _object(request, "app"))


async def get_addon(request: web.Request) -> web.Response:
    return web.json_response(await _object(request, "addon"))


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "state": obj["status"],
        "message": obj["message"],
        **{key: obj[key] for key in STATUS_FIELDS},
    }


async def app_status(request: web.Request) -> web.Response:
    return web.json_response(_status(await _object(request, "app")))


async def addon_status(request: web.Request) -> web.Response:
    return web.json_response(_status(await _object(request, "addon")))


# --- logs ----------------------------------------------------------------------------------------


async def app_logs(request: web.Request) -> web.StreamResponse:
    return await _logs(request, "app")


async def addon_logs(request: web.Request) -> web.StreamResponse:
    return await _logs(request, "addon")


async def _logs(request: web.Request, kind: str) -> web.StreamResponse:
    obj = await _object(request, kind)
    names = container_names(obj)
    wanted = request.query.get("container")
    if wanted:
        if wanted not in names:
            known = ", ".join(names) or "none"
            raise ApiError(404, f"{wanted!r} is not a container of {obj['name']} ({known})")
        names = [wanted]
    lines = parse_lines(request.query.get("lines"))
    since = parse_since(request.query.get("since"))
    port = request.app[DAEMON].engine.port
    if query_flag(request, "follow"):
        return await _follow(request, port, names, lines, since)
    loop = asyncio.get_running_loop()
    found = await loop.run_in_executor(None, read_logs, port, names, lines, since)
    text = "".join(line.render() + "\n" for line in found)
    return web.Response(text=text, content_type="text/plain")


def _offer(queue: asyncio.Queue[LogLine], line: LogLine) -> None:
    if queue.full():  # a reader this slow loses the oldest lines, not the server its memory
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
    queue.put_nowait(line)


async def _follow(
    request: web.Request, port: DockerPort, names: list[str], lines: int, since: float | None
) -> web.StreamResponse:
    state = api_state(request)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[LogLine] = asyncio.Queue(QUEUE_LINES)

    def deliver(line: LogLine) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening
            loop.call_soon_threadsafe(_offer, queue, line)

    async def next_line(timeout: float) -> LogLine | None:
        try:
            return await asyncio.wait_for(queue.get(), timeout)
        except TimeoutError:
            return None

    async with state.streams.slot():
        followers = [Follower(port, name, lines, since, deliver) for name in names]
        response = await open_stream(request)
        for follower in followers:
            follower.start()
        try:
            await pump(
                request,
                response,
                next_line,
                lambda line: format_event(line.to_dict(), "log", str(line.at_ns)),
                state.shutdown,
            )
        finally:
            for follower in followers:
                follower.stop()
    return response


# --- metrics -------------------------------------------------------------------------------------


async def app_metrics(request: web.Request) -> web.Response:
    return web.json_response(await _metrics(request, "app"))


async def addon_metrics(request: web.Request) -> web.Response:
    body = await _metrics(request, "addon")
    obj = await _object(request, "addon")
    port = request.app[DAEMON].engine.port
    try:
        sizes = await asyncio.get_running_loop().run_in_executor(None, port.volume_sizes)
    except ReconcilerError:
        sizes = {}  # the disk usage report failed: say unknown rather than fail the metrics
    volume = str(obj.get("volume"))
    body["disk"] = disk(sizes.get(volume), obj.get("diskBytes"), volume)
    return web.json_response(body)


def _samples(port: DockerPort, names: list[str]) -> list[tuple[str, dict[str, Any]]]:
    def one(name: str) -> tuple[str, dict[str, Any]] | None:
        try:
            return name, port.stats(name)
        except ReconcilerError:
            return None  # stopped or replaced since the view was taken

    if not names:
        return []
    with ThreadPoolExecutor(max_workers=min(len(names), 8)) as pool:
        return [sample for sample in pool.map(one, names) if sample is not None]


async def _metrics(request: web.Request, kind: str) -> dict[str, Any]:
    snapshot = await api_state(request).view.snapshot()
    name = _name(request)
    snapshot.get(kind, name)
    running = [c.name for c in snapshot.live(kind, name) if c.running]
    workload = snapshot.desired.workload(name)
    spec = workload.replicas[0] if workload and workload.replicas else None
    nano = spec.nano_cpus if spec else None
    memory = spec.memory_bytes if spec else None
    port = request.app[DAEMON].engine.port
    loop = asyncio.get_running_loop()
    samples = await loop.run_in_executor(None, _samples, port, running)
    parts = [container_usage(n, sample, nano) for n, sample in samples]
    return {
        "name": name,
        "kind": kind,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": total(parts, "cpu", nano / NANOS if nano else None),
        "memory": total(parts, "memory", memory),
        "network": total(parts, "network"),
        "containers": parts,
    }


# --- triggers and credentials --------------------------------------------------------------------


def _accepted(body: dict[str, Any]) -> web.Response:
    return web.json_response(body, status=202)


async def _restart(request: web.Request, kind: str) -> web.Response:
    state, daemon = api_state(request), request.app[DAEMON]
    body = await actions.start_restart(state, daemon, kind, _name(request), caller(request))
    return _accepted(body)


async def restart_app(request: web.Request) -> web.Response:
    return await _restart(request, "app")


async def restart_addon(request: web.Request) -> web.Response:
    return await _restart(request, "addon")


async def rotate_addon_credentials(request: web.Request) -> web.Response:
    state, daemon = api_state(request), request.app[DAEMON]
    return _accepted(
        await actions.rotate_credentials(state, daemon, _name(request), caller(request))
    )


async def addon_credentials(request: web.Request) -> web.Response:
    """The only answer that carries a password; never cached, and every read is audited."""
    obj = await _object(request, "addon")
    if not obj["declared"]:
        raise ApiError(404, f"add-on {obj['name']} is not declared")
    daemon = request.app[DAEMON]
    loop = asyncio.get_running_loop()
    plan = await loop.run_in_executor(
        None, daemon.engine.addon, daemon.mirror.manifest_dir, obj["name"]
    )
    who = caller(request)
    daemon.audit("addon.credentials.read", f"credentials of {obj['name']}", who.peer, who.actor)
    conn = plan.connection
    body = {
        "addon": obj["name"],
        "type": obj.get("type"),
        "host": conn.host,
        "port": conn.port,
        "username": conn.user,
        "password": conn.password,
        "database": conn.database,
        "connectionString": conn.url,
        "publish": obj.get("publish"),
    }
    return web.json_response(body, headers={"Cache-Control": "no-store"})
