"""Plan value types: actions with reasons and field-level changes."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from reconciler.state.model import Kind, LiveContainer, Workload


class ActionType(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"  # rolling: one replica at a time, new before old
    RECREATE = "recreate"  # stop old, then start new
    SCALE = "scale"
    DELETE = "delete"
    #: Add-ons with `upgrade: dumpRestore`: back up, new major on a fresh volume, restore.
    UPGRADE = "upgrade"


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Action:
    action: ActionType
    kind: Kind
    name: str
    reason: str
    changes: tuple[FieldChange, ...] = ()
    #: What apply needs and renderers leave out: the desired workload and what is live for it.
    workload: Workload | None = field(default=None, compare=False)
    live: tuple[LiveContainer, ...] = field(default=(), compare=False)
    #: Live containers that must be replaced (outdated spec, moved image, not running).
    replace: tuple[str, ...] = ()
    #: Volumes removed with a deleted add-on whose deletionPolicy is `delete`.
    delete_volumes: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    #: UPGRADE only: the apps connected to the add-on (stopped while it is dumped and restored).
    dependents: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    stack: str
    revision: str
    actions: tuple[Action, ...]

    @property
    def empty(self) -> bool:
        return not self.actions

    def counts(self) -> dict[str, int]:
        counts = {kind.value: 0 for kind in ActionType}
        for action in self.actions:
            counts[action.action.value] += 1
        return counts
