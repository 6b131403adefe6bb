"""Run the daemon: HTTP server, trigger worker, poll loop and drift follower, until signalled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from aiohttp import web

from reconciler.api.app import build_app
from reconciler.daemon.service import Daemon

log = logging.getLogger("reconciler.daemon")


async def loop_run(function: Callable[[], object]) -> None:
    await asyncio.get_running_loop().run_in_executor(None, function)


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    try:
        return (host or "127.0.0.1").strip("[]"), int(port)
    except ValueError as e:
        raise ValueError(f"--listen must be HOST:PORT, got {listen!r}") from e


async def serve(daemon: Daemon) -> None:
    abandoned = daemon.controller.deployments.abandon_running()
    if abandoned:
        log.warning("marked %d deployment(s) interrupted by the last stop as failed", abandoned)
    host, port = split_listen(daemon.settings.listen)
    runner = web.AppRunner(build_app(daemon), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info(
        "listening on http://%s:%d (repo %s, branch %s)",
        host,
        port,
        daemon.settings.repo,
        daemon.branch,
    )
    tasks = [
        asyncio.create_task(daemon.queue.worker(), name="worker"),
        asyncio.create_task(daemon.poll_loop(), name="poll"),
        asyncio.create_task(daemon.drift_loop(), name="drift"),
    ]
    await loop_run(daemon.job_runner.recover)
    daemon.jobs.start()
    daemon.queue.submit("startup")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("stopping: finishing the pass in progress, if any")
    daemon.stop()
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await runner.cleanup()
