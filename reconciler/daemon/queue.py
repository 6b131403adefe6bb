"""Single-flight trigger queue: at most one reconcile running and one queued, whatever the load.

A burst of triggers (1000 webhooks, a flapping container) collapses into the one queued entry;
each trigger still gets an answer: the pass that will cover it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger("reconciler.daemon")


@dataclass
class Ticket:
    """A queued pass; every trigger coalesced into it shares its future."""

    triggers: list[str] = field(default_factory=list)
    done: asyncio.Future[object] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class TriggerQueue:
    def __init__(self, run: Callable[[str], Awaitable[object]]) -> None:
        self._run = run
        self._pending: Ticket | None = None
        self._wake = asyncio.Event()
        self.running: Ticket | None = None
        self.accepted = 0
        self.passes = 0

    def submit(self, trigger: str) -> Ticket:
        """Queue a pass (or join the queued one); never starts a second concurrent pass."""
        self.accepted += 1
        if self._pending is None:
            self._pending = Ticket()
        self._pending.triggers.append(trigger)
        self._wake.set()
        return self._pending

    @property
    def queued(self) -> bool:
        return self._pending is not None

    async def worker(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            ticket, self._pending = self._pending, None
            if ticket is None:
                continue
            self.running = ticket
            self.passes += 1
            # The first trigger names the pass: a webhook that arrives during a poll still fetches.
            trigger = _strongest(ticket.triggers)
            try:
                result = await self._run(trigger)
                if not ticket.done.done():
                    ticket.done.set_result(result)
            except Exception as e:  # a pass must never kill the worker
                log.exception("reconcile pass failed unexpectedly")
                if not ticket.done.done():
                    ticket.done.set_exception(e)
            finally:
                self.running = None


_PRIORITY = ("resume", "api", "webhook", "startup", "poll", "watch", "drift")


def _strongest(triggers: list[str]) -> str:
    """The trigger whose pass does the most (fetching beats a drift-only pass)."""
    return min(triggers, key=lambda t: _PRIORITY.index(t) if t in _PRIORITY else len(_PRIORITY))
