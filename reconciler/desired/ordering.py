"""Dependency order of workloads: what must be up before what, and what may run in parallel."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from reconciler.state.errors import PlanError


def dependency_levels(depends_on: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Group names into levels; every name depends only on names of earlier levels.

    References to names outside the mapping are ignored (they are validated elsewhere).
    """
    remaining = {name: {d for d in deps if d in depends_on} for name, deps in depends_on.items()}
    levels: list[list[str]] = []
    done: set[str] = set()
    while remaining:
        ready = sorted(name for name, deps in remaining.items() if deps <= done)
        if not ready:
            raise PlanError(f"dependency cycle among: {', '.join(sorted(remaining))}")
        levels.append(ready)
        done.update(ready)
        for name in ready:
            del remaining[name]
    return levels


def dependency_order(depends_on: Mapping[str, Iterable[str]]) -> list[str]:
    return [name for level in dependency_levels(depends_on) for name in level]
