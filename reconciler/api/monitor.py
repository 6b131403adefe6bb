"""Turn what the daemon records into events: deployments, their actions, drift repairs, and
changes of each workload's state or health.

Every pass writes the state database, so reading its newest rows once a second sees every
deployment whatever triggered it, without a hook in the controller. Health is compared between
views of the stack, refreshed every few seconds while someone listens.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from reconciler.api.keys import ApiState
from reconciler.daemon.controller import QUIET_TRIGGERS
from reconciler.daemon.events import EventBus
from reconciler.daemon.service import Daemon
from reconciler.store.deployments import Deployment

log = logging.getLogger("reconciler.api")
DEPLOYMENT_POLL_SECONDS = 1.0
HEALTH_EVERY_POLLS = 5


class DeploymentWatch:
    """Publishes deployment.started, deployment.finished, action and drift.repaired events."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._started: set[int] = set()
        self._finished: deque[int] = deque(maxlen=500)
        self._floor: int | None = None

    def see(self, deployments: list[Deployment]) -> None:
        if self._floor is None:  # history before we started is not news
            self._floor = max((d.id for d in deployments if d.status != "running"), default=0)
        for deployment in sorted(deployments, key=lambda d: d.id):
            if deployment.id <= self._floor or deployment.id in self._finished:
                continue
            if deployment.status == "running":
                if deployment.id not in self._started and deployment.trigger not in QUIET_TRIGGERS:
                    self._started.add(deployment.id)
                    self._bus.publish("deployment.started", _summary(deployment))
                continue
            self._finished.append(deployment.id)
            self._started.discard(deployment.id)
            self._finish(deployment)

    def _finish(self, deployment: Deployment) -> None:
        self._bus.publish(
            "deployment.finished", {**_summary(deployment), "errors": deployment.errors}
        )
        for action in deployment.actions:
            self._bus.publish(
                "action",
                {
                    "deploymentId": deployment.id,
                    **{
                        k: action.get(k)
                        for k in ("action", "kind", "name", "result", "error")
                        if k in action
                    },
                },
            )
        if deployment.trigger == "drift":
            self._bus.publish("drift.repaired", _summary(deployment))


def _summary(deployment: Deployment) -> dict[str, Any]:
    return {
        "deploymentId": deployment.id,
        "status": deployment.status,
        "trigger": deployment.trigger,
        "revision": deployment.revision,
        "startedAt": deployment.started_at,
        "finishedAt": deployment.finished_at,
    }


class HealthWatch:
    """Publishes health.changed when a workload's state or health differs from the last look."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._last: dict[tuple[str, str], tuple[str, str]] | None = None

    def see(self, objects: dict[str, dict[str, dict[str, Any]]]) -> None:
        now = {
            (kind, name): (str(obj["status"]), str(obj["health"]))
            for kind, named in objects.items()
            for name, obj in named.items()
        }
        before, self._last = self._last, now
        if before is None:
            return
        for key in sorted(set(before) | set(now)):
            old, new = before.get(key), now.get(key)
            if old == new:
                continue
            kind, name = key
            self._bus.publish(
                "health.changed",
                {
                    "kind": kind,
                    "name": name,
                    "from": {"state": old[0], "health": old[1]} if old else None,
                    "to": {"state": new[0], "health": new[1]} if new else None,
                },
            )


async def watch(daemon: Daemon, state: ApiState) -> None:
    """Run until cancelled; a failed look is logged and retried, never fatal."""
    deployments = DeploymentWatch(state.bus)
    health = HealthWatch(state.bus)
    polls = 0
    while True:
        try:
            deployments.see(daemon.controller.deployments.list(limit=20))
            if polls % HEALTH_EVERY_POLLS == 0 and state.bus.subscribers:
                snapshot = await state.view.snapshot(max_age=DEPLOYMENT_POLL_SECONDS)
                health.see(snapshot.objects)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.debug("event watch: %s", e)
        polls += 1
        await asyncio.sleep(DEPLOYMENT_POLL_SECONDS)
