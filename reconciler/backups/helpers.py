"""Short-lived containers for backups: helpers that mount a volume, throwaway server copies."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from reconciler.observed.port import DockerPort, ExecResult, OneOffSpec
from reconciler.state import labels
from reconciler.state.errors import BackupError, DockerApiError, ReconcilerError
from reconciler.state.model import VolumeMount

#: The kind label of every container and volume the backups make; the planner ignores it.
BACKUP_KIND = "backup"
#: The helper only has to stay up while we exec into it.
IDLE = ("sleep", "86400")
HEALTHY_TIMEOUT = 180.0
STOP_TIMEOUT = 30


def helper_labels(stack: str, purpose: str) -> dict[str, str]:
    # The stack label makes `down` and test cleanup remove leftovers of a crash too.
    return {labels.STACK: stack, labels.KIND: BACKUP_KIND, labels.NAME: purpose}


@contextlib.contextmanager
def one_off(port: DockerPort, spec: OneOffSpec, name: str, stack: str) -> Iterator[str]:
    """Run a container for the duration of the block; remove it afterwards, whatever happens."""
    with contextlib.suppress(ReconcilerError):
        port.remove(name)  # a leftover of a crash under the same name
    try:
        port.run_one_off(spec, name, helper_labels(stack, name))
    except DockerApiError as e:
        if e.status != 404 or "image" not in str(e).lower():
            raise
        port.pull(spec.image)  # the helper image is not local yet (first volume backup)
        with contextlib.suppress(ReconcilerError):
            port.remove(name)
        port.run_one_off(spec, name, helper_labels(stack, name))
    try:
        yield name
    finally:
        with contextlib.suppress(ReconcilerError):
            port.remove(name)


@contextlib.contextmanager
def scratch_volume(port: DockerPort, name: str, stack: str) -> Iterator[str]:
    port.create_volume(name, helper_labels(stack, name))
    try:
        yield name
    finally:
        with contextlib.suppress(ReconcilerError):
            port.remove_volume(name)


def leftover_pattern(stack: str, source: str) -> re.Pattern[str]:
    """Names of the helpers backups, verifies and restores of one source run under."""
    return re.compile(
        rf"{re.escape(stack)}-{re.escape(source)}-(backup|verify|restore)-[0-9]+(-data|-load)?"
    )


def sweep_leftovers(port: DockerPort, stack: str, source: str) -> list[str]:
    """Remove one source's helper containers and scratch volumes; return their names.

    Only call with the source lock held: then no live process uses them, so any found are what
    a killed process left behind (the kernel released its lock, Docker kept its containers).
    """
    pattern = leftover_pattern(stack, source)
    removed = []
    for container in port.list_containers(stack):
        if container.kind == BACKUP_KIND and pattern.fullmatch(container.name):
            port.remove(container.name)
            removed.append(container.name)
    for volume in port.list_volumes(stack):
        if pattern.fullmatch(volume.name):
            port.remove_volume(volume.name)
            removed.append(volume.name)
    return removed


def helper_spec(image: str, volume: str, mount: str, read_only: bool = False) -> OneOffSpec:
    return OneOffSpec(image=image, command=IDLE, volumes=(VolumeMount(volume, mount, read_only),))


def wait_healthy(port: DockerPort, name: str, timeout: float = HEALTHY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        state = port.container_state(name)
        if state.health == "healthy" or (state.health is None and state.status == "running"):
            return
        if state.status in ("exited", "dead") or state.health == "unhealthy":
            tail = port.logs_tail(name, 5)
            raise BackupError(f"{name} did not come up ({state.status}): {tail}")
        if time.monotonic() > deadline:
            raise BackupError(f"{name} was not healthy after {timeout:.0f}s")
        time.sleep(0.5)


def require_running(port: DockerPort, container: str, what: str) -> None:
    try:
        state = port.container_state(container)
    except DockerApiError as e:
        raise BackupError(f"{what}: container {container} does not exist; apply first") from e
    if state.status != "running":
        raise BackupError(f"{what}: container {container} is not running ({state.status})")


def checked(result: ExecResult, what: str, mask: Callable[[str], str]) -> ExecResult:
    if result.exit_code != 0:
        tail = mask(result.output_tail) or "no output"
        raise BackupError(f"{what} exited with {result.exit_code}: {tail}")
    return result


def masker(secrets: Iterable[str]) -> Callable[[str], str]:
    """Replace every known secret value in a text: command output may echo one."""
    values = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def mask(text: str) -> str:
        for value in values:
            text = text.replace(value, "***")
        return text

    return mask


@dataclass
class StoppedApps:
    """Stops the running containers of some apps and starts exactly those again."""

    port: DockerPort
    stack: str
    apps: tuple[str, ...]
    report: Callable[[str], None]

    def __post_init__(self) -> None:
        self.stopped: list[str] = []

    def __enter__(self) -> StoppedApps:
        owners = set(self.apps)
        for container in self.port.list_containers(self.stack):
            if container.kind == "app" and container.owner in owners and container.running:
                self.report(f"stopping {container.name}")
                self.port.stop(container.name, STOP_TIMEOUT)
                self.stopped.append(container.name)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self.stopped:
            self.report(f"starting {name}")
            self.port.start(name)
