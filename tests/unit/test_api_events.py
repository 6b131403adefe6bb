"""The in-process event bus and the watchers that feed it from the state database."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from reconciler.api.monitor import DeploymentWatch, HealthWatch
from reconciler.daemon.events import EventBus
from reconciler.store.deployments import Deployment


def test_publish_from_threads_reaches_subscribers_in_order() -> None:
    async def main() -> list[int]:
        bus = EventBus()
        subscription = bus.subscribe()
        threads = [
            threading.Thread(target=bus.publish, args=("drift.detected", {"n": n}))
            for n in range(5)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        got = [await subscription.get(1.0) for _ in range(5)]
        assert await subscription.get(0.05) is None
        subscription.close()
        assert bus.subscribers == 0
        return [e.id for e in got if e is not None]

    assert asyncio.run(main()) == [1, 2, 3, 4, 5]


def test_replay_after_an_id_and_bounded_queues() -> None:
    async def main() -> None:
        bus = EventBus(history=10)
        for n in range(8):
            bus.publish("deployment.finished", {"n": n})
        resumed = bus.subscribe(after=6)
        first = await resumed.get(0.1)
        assert first is not None and first.id == 7
        slow = bus.subscribe(size=2)
        for n in range(5):
            bus.publish("health.changed", {"n": n})
        await asyncio.sleep(0.01)  # let the loop run the hand-overs
        kept = [await slow.get(0.1), await slow.get(0.1)]
        assert [e.data["n"] for e in kept if e is not None] == [3, 4]
        assert slow.dropped == 3

    asyncio.run(main())


def test_a_reader_whose_loop_closed_is_dropped() -> None:
    bus = EventBus()

    async def subscribe() -> None:
        bus.subscribe()

    asyncio.run(subscribe())  # the loop closes with the reader still subscribed
    bus.publish("drift.detected")
    assert bus.subscribers == 0


def _deployment(id_: int, status: str, trigger: str = "api", **extra: Any) -> Deployment:
    return Deployment(id_, "s", "abc", "subject", "me", trigger, "t0", None, status, **extra)


def test_deployment_watch_announces_new_deployments_once() -> None:
    bus = EventBus()
    watch = DeploymentWatch(bus)
    watch.see([_deployment(1, "succeeded")])  # history before the watch: not news
    assert bus.recent() == []
    watch.see([_deployment(2, "running"), _deployment(1, "succeeded")])
    actions = [{"action": "update", "kind": "app", "name": "web", "result": "succeeded"}]
    done = _deployment(2, "succeeded", actions=actions)
    watch.see([done])
    watch.see([done])
    watch.see([_deployment(3, "running", trigger="drift")])  # quiet until it changes something
    watch.see([_deployment(3, "succeeded", trigger="drift")])
    types = [e.type for e in bus.recent()]
    assert types == [
        "deployment.started",
        "deployment.finished",
        "action",
        "deployment.finished",
        "drift.repaired",
    ]
    assert bus.recent()[2].data == {"deploymentId": 2, **actions[0]}


def test_health_watch_reports_changes_only() -> None:
    bus = EventBus()
    watch = HealthWatch(bus)
    running = {"app": {"web": {"status": "running", "health": "healthy"}}, "addon": {}}
    watch.see(running)
    watch.see(running)
    assert bus.recent() == []
    watch.see({"app": {"web": {"status": "failed", "health": "unhealthy"}}, "addon": {}})
    (event,) = bus.recent()
    assert event.type == "health.changed"
    assert event.data["from"] == {"state": "running", "health": "healthy"}
    assert event.data["to"] == {"state": "failed", "health": "unhealthy"}
