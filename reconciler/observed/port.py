"""DockerPort: the narrow interface every layer uses to read and change Docker."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from reconciler.state.model import (
    ContainerSpec,
    HealthSpec,
    LiveContainer,
    LiveNetwork,
    LiveVolume,
    VolumeMount,
)


@dataclass(frozen=True)
class ContainerState:
    """What an inspect says about one container's health, for waiting and for error messages."""

    status: str  # created | running | exited | restarting | ...
    health: str | None  # starting | healthy | unhealthy | None (no healthcheck)
    exit_code: int
    error: str
    oom_killed: bool
    last_probe_output: str = ""


@dataclass(frozen=True)
class EngineEvent:
    """One engine event that can change what a list call reports (see WATCHED_EVENTS)."""

    type: str  # container | network | volume | image
    action: str  # create, start, die, destroy, health_status, pull, ... (no ": detail" suffix)
    id: str  # the object's id (an image's reference for pull and tag)
    #: A container's labels plus its name; a network's or volume's name and driver.
    attributes: Mapping[str, str]
    time_nano: int


#: Event types and actions that can change a list call's answer. Others (exec_*, network
#: connect, volume mount, ...) are frequent and change nothing we list, so the engine drops them.
WATCHED_EVENTS: Mapping[str, frozenset[str]] = {
    "container": frozenset({
        "create", "start", "restart", "die", "stop", "kill", "destroy", "oom", "pause",
        "unpause", "rename", "update", "health_status",
    }),
    "network": frozenset({"create", "destroy"}),
    "volume": frozenset({"create", "destroy"}),
    "image": frozenset({"pull", "tag", "untag", "delete", "import", "load"}),
}  # fmt: skip


class EventStream(Protocol):
    """Engine events in order; `close()` ends the iteration from another thread."""

    def __iter__(self) -> Iterator[EngineEvent]: ...

    def close(self) -> None: ...


class DockerPort(Protocol):
    def ping(self) -> None: ...

    def list_containers(self, stack: str) -> list[LiveContainer]: ...

    def list_containers_by_id(self, stack: str, ids: Sequence[str]) -> list[LiveContainer]:
        """The stack's containers among `ids`, in one list call (a gone one is absent)."""
        ...

    def events(self, since_nano: int, until_nano: int | None = None) -> EventStream:
        """WATCHED_EVENTS of every stack from `since_nano` (inclusive, unix nanoseconds).

        Without `until_nano` the stream blocks for new events until closed, and raises
        DockerUnavailable when the connection breaks; with it, it ends after past events.
        """
        ...

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

    def stream_logs(
        self, name: str, since: float | None, tail: int | None, follow: bool
    ) -> Iterator[bytes]:
        """Raw log chunks, every line prefixed with its RFC 3339 timestamp (stdout and stderr).

        `since` is a unix time, `tail` None means all lines. With `follow` the iterator blocks
        for new lines until the container stops; it also has a `close()` that ends it from
        another thread (a reader that went away).
        """
        ...

    def stats(self, name: str) -> dict[str, Any]:
        """One stats sample of a running container, with the previous CPU reading for deltas."""
        ...

    def restart(self, name: str, timeout: int) -> None: ...

    def volume_sizes(self) -> dict[str, int]:
        """Bytes used per volume name (the engine's disk usage report); unsized ones are absent."""
        ...

    # --- backups and tasks: commands inside containers, and short-lived containers ---

    def exec_stream(
        self, container: str, command: Sequence[str], sink: Callable[[bytes], None]
    ) -> ExecResult:
        """Run `command` in a running container, handing stdout to `sink` chunk by chunk.

        Nothing is buffered whole: a multi-gigabyte dump flows through in bounded memory.
        """
        ...

    def exec_stdin(
        self, container: str, command: Sequence[str], source: Iterable[bytes]
    ) -> ExecResult:
        """Run `command` in a running container with `source` streamed into its stdin."""
        ...

    def run_one_off(self, spec: OneOffSpec, name: str, labels: Mapping[str, str]) -> None:
        """Create and start a container that is never restarted (a helper, a copy, a task)."""
        ...

    def wait(self, name: str, timeout: float) -> int | None:
        """The container's exit code once it stops; None if it still runs after `timeout`."""
        ...


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    #: The end of what the command wrote to stderr (and to stdout, when stdout is not streamed).
    output_tail: str


@dataclass(frozen=True)
class OneOffSpec:
    """A short-lived container: no restart policy, no published ports."""

    image: str
    command: tuple[str, ...] | None
    env: tuple[tuple[str, str], ...] = ()
    volumes: tuple[VolumeMount, ...] = ()
    network: str | None = None  # None: no network at all, only loopback
    healthcheck: HealthSpec | None = None
