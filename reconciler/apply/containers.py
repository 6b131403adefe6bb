"""Create, replace and remove the containers of one workload, crash-safely.

A replacement is created under a temporary name with a label naming the container it replaces,
then the old one is stopped and removed, then the new one is renamed: the next pass can always
tell a half-done replacement apart and finish or undo it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

from reconciler.apply.files import materialize
from reconciler.apply.health import UnhealthyError, wait_healthy
from reconciler.desired.build import spec_document
from reconciler.observed.port import DockerPort
from reconciler.state import labels
from reconciler.state.errors import DockerApiError, ReconcilerError
from reconciler.state.faults import crash_point
from reconciler.state.model import (
    ContainerSpec,
    LiveContainer,
    UpdateStrategy,
    Workload,
    canonical_reference,
)

STOP_TIMEOUT = 10
REPLACEMENT_SETTLE_SECONDS = 1.0
Report = Callable[[str], None]


def container_labels(spec: ContainerSpec, workload: Workload, revision: str) -> dict[str, str]:
    return {
        **dict(spec.user_labels),
        labels.STACK: spec.stack,
        labels.KIND: spec.kind.value,
        labels.NAME: spec.owner,
        labels.REPLICA: str(spec.replica),
        labels.HASH: workload.spec_hash,
        labels.REVISION: revision,
        labels.SPEC: json.dumps(spec_document(spec), sort_keys=True, separators=(",", ":")),
    }


class ImageCache:
    """Local image presence shared by the apply's threads; pulls each missing image once."""

    def __init__(self, port: DockerPort, known: dict[str, str], report: Report) -> None:
        self._port = port
        self._known = set(known)
        self._lock = threading.Lock()
        self._failed: dict[str, str] = {}
        self._report = report

    def ensure(self, reference: str) -> None:
        ref = canonical_reference(reference)
        with self._lock:
            if ref in self._known:
                return
            if ref in self._failed:
                raise DockerApiError(self._failed[ref])
            self._report(f"pulling {reference}")
            try:
                self._port.pull(reference)
            except ReconcilerError as e:
                self._failed[ref] = str(e)
                raise
            self._known.add(ref)


class WorkloadRunner:
    """Converge one workload's containers; raises ReconcilerError when it cannot."""

    def __init__(self, port: DockerPort, images: ImageCache, revision: str, report: Report) -> None:
        self.port = port
        self.images = images
        self.revision = revision
        self.report = report
        #: Time spent waiting for health checks, summed over replicas (for timings).
        self.health_seconds = 0.0
        self._health_lock = threading.Lock()

    def converge(
        self, workload: Workload, live: tuple[LiveContainer, ...], replace: set[str]
    ) -> None:
        current = self._settle_leftovers(workload, live)
        if workload.replicas:
            self.images.ensure(workload.replicas[0].image)
        missing = [spec for spec in workload.replicas if spec.name not in current]
        self._create_and_start(workload, missing)
        for spec in workload.replicas:
            existing = current.get(spec.name)
            if existing is not None and spec.name in replace:
                self._replace(workload, spec, existing)
        wanted = {spec.name for spec in workload.replicas}
        for name in sorted(set(current) - wanted, reverse=True):
            self.remove(name)

    def _settle_leftovers(
        self, workload: Workload, live: tuple[LiveContainer, ...]
    ) -> dict[str, LiveContainer]:
        """Finish or undo replacements a crash left behind; return the live replicas by name."""
        current = {c.name: c for c in live if c.replaces is None}
        for temp in (c for c in live if c.replaces is not None):
            target = temp.replaces or ""
            if target not in current and temp.spec_hash == workload.spec_hash:
                self.report(f"{workload.name}: finishing interrupted replacement of {target}")
                self.port.rename(temp.name, target)
                if temp.state != "running":
                    self.port.start(target)
                # Treat it as current; the plan's replace set decides whether it is good enough.
                current[target] = temp
            else:
                self.report(f"{workload.name}: removing leftover {temp.name}")
                self.port.remove(temp.name)
        return current

    def _wait(self, name: str, spec: ContainerSpec, settle: float = 0.0) -> None:
        started = time.monotonic()
        try:
            wait_healthy(self.port, name, spec, settle)
        finally:
            with self._health_lock:
                self.health_seconds += time.monotonic() - started

    def _create(self, spec: ContainerSpec, name: str, container_labels_: dict[str, str]) -> None:
        materialize(spec.files)
        self.port.create_container(spec, name, container_labels_)

    def _create_and_start(self, workload: Workload, specs: list[ContainerSpec]) -> None:
        """Start missing replicas together (nothing runs yet to protect), then wait for each."""
        for spec in specs:
            self.report(f"{workload.name}: creating {spec.name}")
            self._create(spec, spec.name, container_labels(spec, workload, self.revision))
            crash_point("create.created")
            self.port.start(spec.name)
        for spec in specs:
            self._wait(spec.name, spec)
            self.report(f"{workload.name}: {spec.name} is up")

    def _replace(self, workload: Workload, spec: ContainerSpec, old: LiveContainer) -> None:
        temp = old.name + labels.TEMP_SUFFIX
        new_labels = {**container_labels(spec, workload, self.revision), labels.REPLACES: old.name}
        start_first = workload.update is UpdateStrategy.ROLLING and not _fixed_host_ports(spec)
        self.report(f"{workload.name}: replacing {old.name} ({workload.update.value})")
        self._create(spec, temp, new_labels)
        crash_point("replace.created")
        if not start_first and old.state == "running":
            self.port.stop(old.name, STOP_TIMEOUT)
        try:
            self.port.start(temp)
            # A replacement must prove itself before the old replica goes.
            self._wait(temp, spec, REPLACEMENT_SETTLE_SECONDS)
        except ReconcilerError as e:
            self.port.remove(temp)
            if old.state == "running":
                self._restore(old)
            raise UnhealthyError(f"kept the old {old.name}: {e}") from e
        crash_point("replace.started")
        if start_first:
            self.port.stop(old.name, STOP_TIMEOUT)
        crash_point("replace.old-stopped")
        self.port.remove(old.name)
        crash_point("replace.old-removed")
        self.port.rename(temp, old.name)
        self.report(f"{workload.name}: {old.name} replaced")

    def _restore(self, old: LiveContainer) -> None:
        try:
            self.port.start(old.name)
        except ReconcilerError as e:
            self.report(f"could not restart the old {old.name}: {e}")

    def remove(self, name: str) -> None:
        self.report(f"removing {name}")
        self.port.stop(name, STOP_TIMEOUT)
        self.port.remove(name)


def _fixed_host_ports(spec: ContainerSpec) -> bool:
    return any(port.host_port for port in spec.ports)
