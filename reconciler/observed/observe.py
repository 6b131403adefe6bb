"""Read the live state of one stack with a constant number of list calls (no per-object inspect)."""

from __future__ import annotations

from typing import Protocol

from reconciler.observed.port import DockerPort
from reconciler.state.model import Observed


def observe(port: DockerPort, stack: str) -> Observed:
    return Observed(
        containers=tuple(port.list_containers(stack)),
        networks=tuple(port.list_networks(stack)),
        volumes=tuple(port.list_volumes(stack)),
        images=tuple(sorted(port.image_ids().items())),
    )


class Observer(Protocol):
    """Another way to read live state for planning (the daemon's event-fed cache.py)."""

    #: How the last read was answered, for the logs: "cache", or "primed (why)".
    last_source: str

    def observe(self, stack: str) -> Observed: ...

    def changed(self) -> None:
        """This process wrote to Docker; what was read before may be stale."""
        ...
