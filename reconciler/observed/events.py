"""Drift: the events that can leave one stack's managed containers other than declared."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reconciler.observed.port import EngineEvent
from reconciler.state import labels

#: Container events that can leave a managed container other than declared.
DRIFT_ACTIONS = frozenset({"die", "stop", "kill", "destroy", "oom", "pause", "rename", "update"})


@dataclass(frozen=True)
class ContainerEvent:
    action: str
    container: str
    owner: str
    kind: str


class DriftListener:
    """An EventListener (follow.py) that reports drift-relevant events of `stack`."""

    def __init__(self, stack: str, on_event: Callable[[ContainerEvent], None]) -> None:
        self.stack = stack
        self._on_event = on_event

    def connected(self, since_nano: int) -> None:
        pass

    def disconnected(self) -> None:
        pass

    def event(self, event: EngineEvent) -> None:
        if event.type != "container" or event.action not in DRIFT_ACTIONS:
            return
        attributes = event.attributes
        if attributes.get(labels.STACK) != self.stack or attributes.get(labels.REPLACES):
            return  # another stack, or our own replacement containers coming and going
        self._on_event(
            ContainerEvent(
                action=event.action,
                container=attributes.get("name", ""),
                owner=attributes.get(labels.NAME, ""),
                kind=attributes.get(labels.KIND, ""),
            )
        )
