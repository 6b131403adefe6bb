"""DockerPort: the narrow interface every layer uses to read and change Docker."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from reconciler.state.model import ContainerSpec, LiveContainer, LiveNetwork, LiveVolume


@dataclass(frozen=True)
class ContainerState:
    """What an inspect says about one container's health, for waiting and for error messages."""

    status: str  # created | running | exited | restarting | ...
    health: str | None  # starting | healthy | unhealthy | None (no healthcheck)
    exit_code: int
    error: str
    oom_killed: bool
    last_probe_output: str = ""


class DockerPort(Protocol):
    def ping(self) -> None: ...

    def list_containers(self, stack: str) -> list[LiveContainer]: ...

    def list_networks(self, stack: str) -> list[LiveNetwork]: ...

    def list_volumes(self, stack: str) -> list[LiveVolume]: ...

    def image_ids(self) -> dict[str, str]:
        """Every local image reference (repo:tag and repo@digest) mapped to its image id."""
        ...

    def pull(self, reference: str) -> None: ...

    def create_network(self, name: str, labels: Mapping[str, str]) -> None: ...

    def remove_network(self, name: str) -> None: ...

    def create_volume(self, name: str, labels: Mapping[str, str]) -> None: ...

    def remove_volume(self, name: str) -> None: ...

    def create_container(
        self, spec: ContainerSpec, name: str, labels: Mapping[str, str]
    ) -> str: ...

    def start(self, name: str) -> None: ...

    def stop(self, name: str, timeout: int) -> None: ...

    def remove(self, name: str) -> None: ...

    def rename(self, name: str, new_name: str) -> None: ...

    def container_state(self, name: str) -> ContainerState: ...

    def logs_tail(self, name: str, lines: int) -> str: ...
