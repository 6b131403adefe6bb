"""Read the live state of one stack with a constant number of list calls (no per-object inspect)."""

from __future__ import annotations

from reconciler.observed.port import DockerPort
from reconciler.state.model import Observed


def observe(port: DockerPort, stack: str) -> Observed:
    return Observed(
        containers=tuple(port.list_containers(stack)),
        networks=tuple(port.list_networks(stack)),
        volumes=tuple(port.list_volumes(stack)),
        images=tuple(sorted(port.image_ids().items())),
    )
