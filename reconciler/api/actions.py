"""Trigger work the API starts itself: rolling restarts and credential rotation.

A restart changes no spec: each container is restarted in place, one at a time, and the next
waits until the previous is running (and healthy, where it has a healthcheck), so a workload
with several replicas keeps serving. Rotation writes a new password and queues a reconcile: the
password is part of every connected app's secret digest, so their hashes change and the pass
rolls them onto it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from reconciler.api.errors import ApiError
from reconciler.api.keys import ApiState
from reconciler.api.view import Snapshot
from reconciler.apply.containers import STOP_TIMEOUT
from reconciler.apply.health import wait_healthy
from reconciler.daemon.service import Daemon
from reconciler.observed.port import DockerPort
from reconciler.state.errors import ReconcilerError
from reconciler.state.model import ContainerSpec

log = logging.getLogger("reconciler.api")


@dataclass(frozen=True)
class Caller:
    actor: str  # token name
    peer: str  # remote address


def rolling_restart(port: DockerPort, targets: list[tuple[str, ContainerSpec]]) -> dict[str, str]:
    """Restart each container and wait for it before the next; failures by container name."""
    failures: dict[str, str] = {}
    for name, spec in targets:
        try:
            port.restart(name, STOP_TIMEOUT)
            wait_healthy(port, name, spec)
        except ReconcilerError as e:
            failures[name] = str(e)
            break  # do not take down the next replica while this one is not back
    return failures


def _targets(snapshot: Snapshot, kind: str, name: str) -> list[tuple[str, ContainerSpec]]:
    snapshot.get(kind, name)  # 404 for unknown names
    workload = snapshot.desired.workload(name)
    live = snapshot.live(kind, name)
    if workload is None or workload.kind.value != kind:
        raise ApiError(409, f"{name} is not declared; the next pass removes it if prune is on")
    specs = {spec.name: spec for spec in workload.replicas}
    targets = [(c.name, specs[c.name]) for c in live if c.name in specs]
    if not targets:
        raise ApiError(409, f"{name} has no containers to restart (replicas: {len(specs)})")
    return targets


async def start_restart(
    state: ApiState, daemon: Daemon, kind: str, name: str, caller: Caller
) -> dict[str, Any]:
    snapshot = await state.view.snapshot(max_age=0)
    targets = _targets(snapshot, kind, name)
    key = f"{kind}/{name}"
    if key in state.restarting:
        raise ApiError(409, f"a restart of {name} is already in progress")
    state.restarting.add(key)
    label = "app" if kind == "app" else "addon"
    names = [target[0] for target in targets]
    daemon.audit(
        f"{label}.restart", f"rolling restart of {name}: {', '.join(names)}", *caller_of(caller)
    )
    state.bus.publish("restart.started", {"kind": kind, "name": name, "containers": names})
    state.spawn(_restart(state, daemon, kind, name, targets), name=f"restart-{key}")
    return {"name": name, "kind": kind, "status": "restarting", "containers": names}


def caller_of(caller: Caller) -> tuple[str, str]:
    return caller.peer, caller.actor


async def _restart(
    state: ApiState,
    daemon: Daemon,
    kind: str,
    name: str,
    targets: list[tuple[str, ContainerSpec]],
) -> None:
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    try:
        failures = await loop.run_in_executor(None, rolling_restart, daemon.engine.port, targets)
    except Exception as e:  # never lose the outcome of background work
        log.exception("restart of %s failed", name)
        failures = {name: f"unexpected error: {type(e).__name__}"}
    finally:
        state.restarting.discard(f"{kind}/{name}")
        state.view.invalidate()
    errors = [f"{c}: {reason}" for c, reason in sorted(failures.items())]
    outcome = {
        "kind": kind,
        "name": name,
        "seconds": round(time.monotonic() - started, 2),
        "errors": errors,
    }
    state.bus.publish("restart.failed" if failures else "restart.finished", outcome)
    if failures:
        log.warning("restart of %s failed: %s", name, "; ".join(errors))


async def rotate_credentials(
    state: ApiState, daemon: Daemon, name: str, caller: Caller
) -> dict[str, Any]:
    snapshot = await state.view.snapshot(max_age=0)
    addon = snapshot.get("addon", name)
    if not addon["declared"]:
        raise ApiError(409, f"add-on {name} is not declared; there is nothing to rotate")
    loop = asyncio.get_running_loop()
    rotate = daemon.engine.rotate_credentials
    try:
        await loop.run_in_executor(None, rotate, daemon.mirror.manifest_dir, name)
    except ReconcilerError as e:
        raise ApiError(409, str(e)) from e
    connected = list(addon.get("connectedApps") or [])
    daemon.audit(
        "addon.rotate-credentials",
        f"new password for {name}; reconcile queued for {', '.join(connected) or 'no app'}",
        *caller_of(caller),
    )
    state.view.invalidate(desired=True)
    daemon.queue.submit("api")
    state.bus.publish("credentials.rotated", {"addon": name, "connectedApps": connected})
    return {"addon": name, "status": "queued", "connectedApps": connected}
