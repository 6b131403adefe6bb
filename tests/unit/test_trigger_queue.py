"""The single-flight queue: a burst of triggers is at most one running and one queued pass."""

from __future__ import annotations

import asyncio

from reconciler.daemon.queue import TriggerQueue


def test_a_burst_of_1000_triggers_becomes_two_passes() -> None:
    async def scenario() -> tuple[int, int, list[str]]:
        started = asyncio.Event()
        release = asyncio.Event()
        seen: list[str] = []
        concurrent = 0
        most = 0

        async def run(trigger: str) -> str:
            nonlocal concurrent, most
            concurrent += 1
            most = max(most, concurrent)
            seen.append(trigger)
            started.set()
            await release.wait()
            concurrent -= 1
            return trigger

        queue = TriggerQueue(run)
        worker = asyncio.create_task(queue.worker())
        first = queue.submit("poll")
        await started.wait()  # one pass is running now
        tickets = [queue.submit("webhook") for _ in range(1000)]
        assert all(t is tickets[0] for t in tickets), "all coalesce into the one queued pass"
        release.set()
        await first.done
        await tickets[0].done
        worker.cancel()
        return queue.passes, most, seen

    passes, most, seen = asyncio.run(scenario())
    assert passes == 2 and most == 1
    assert seen == ["poll", "webhook"]


def test_the_strongest_trigger_names_the_pass() -> None:
    async def scenario() -> list[str]:
        seen: list[str] = []

        async def run(trigger: str) -> None:
            seen.append(trigger)

        queue = TriggerQueue(run)
        for trigger in ("drift", "poll", "webhook", "drift"):
            ticket = queue.submit(trigger)
        worker = asyncio.create_task(queue.worker())
        await ticket.done
        worker.cancel()
        return seen

    assert asyncio.run(scenario()) == ["webhook"], "a webhook in the burst means: fetch"
