"""Major-version upgrades of add-ons by dump and restore (`upgrade: dumpRestore`).

Called by apply for an UPGRADE action, under the stack lock, one add-on at a time:

1. stop the connected apps (so nothing is written after the dump), start the old server if a
   cut-short pass left it stopped;
2. back it up through BackupService: a checksummed, recorded backup, the rollback point;
3. count its tables (the engine's verify check), stop it;
4. write a journal naming the fresh volume and the old container's id, create the volume;
5. run the new major on it in a throwaway container (real credentials, no network), restore
   the dump, and check that the count matches;
6. rename the old container aside, create the add-on's container from the desired spec (which
   mounts the fresh volume), wait until it is healthy, then remove the old container;
7. start the apps again (their connection settings are unchanged).

Any failure undoes it: the new container and the fresh volume go, the old container comes back
under its name and is started. The old data volume is never touched and never removed here.

A pass killed midway is finished by the next: the old container is still there (under its name
or renamed aside), so the planner plans the UPGRADE again, and the journal proves the fresh
volume is this upgrade's leftover (not someone's data), so it is removed and the upgrade redone.
Killed after the new container exists, the new one is the add-on and the old is pruned.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from reconciler.addons.catalog import CATALOG
from reconciler.addons.spec import Engine
from reconciler.apply.containers import WorkloadRunner
from reconciler.backups.files import read_chunks
from reconciler.backups.helpers import (
    STOP_TIMEOUT,
    StoppedApps,
    checked,
    one_off,
    wait_healthy,
)
from reconciler.backups.service import BackupService, source_lock
from reconciler.backups.sources import ADDON, VOLUME_MOUNT, Target
from reconciler.backups.verify import check_file
from reconciler.desired.build import spec_hash
from reconciler.observed.port import OneOffSpec
from reconciler.plan.model import Action
from reconciler.state import labels
from reconciler.state.errors import BackupError, ReconcilerError
from reconciler.state.faults import crash_point
from reconciler.state.model import (
    ContainerSpec,
    HealthSpec,
    LiveContainer,
    VolumeMount,
    Workload,
)

#: Where the old server waits while the new one proves itself.
ASIDE_SUFFIX = "--pre-upgrade"
UPGRADED_FROM = "io.reconciler.upgraded-from"


class UpgradeError(BackupError):
    """A dump-and-restore upgrade failed; the old version runs again on its untouched volume."""


@dataclass(frozen=True)
class Step:
    """One upgrade, resolved from its action: what runs now, and where the new data goes."""

    target: Target  # the old server, for the backup
    engine: Engine
    old: LiveContainer
    workload: Workload  # the desired add-on; its container mounts the fresh volume
    spec: ContainerSpec
    old_volume: str
    new_volume: str


class DumpRestoreUpgrader:
    """The apply layer's Upgrader: runs UPGRADE actions with this state directory's backups."""

    def __init__(self, service: BackupService) -> None:
        self.service = service
        self._one_at_a_time = threading.Lock()

    def __call__(self, action: Action, runner: WorkloadRunner) -> None:
        step = resolve_step(action)
        with self._one_at_a_time, source_lock(self.service.state_dir, step.target):
            self.service.sweep(step.target)
            journal = Journal(self.service.state_dir, step.target.stack, step.target.source)
            self._clear_leftovers(step, journal)
            runner.images.ensure(step.spec.image)
            with StoppedApps(runner.port, step.target.stack, action.dependents, runner.report):
                self._upgrade(step, action, runner, journal)

    def _clear_leftovers(self, step: Step, journal: Journal) -> None:
        """Remove the fresh volume only when the journal proves it is this upgrade's own."""
        port = self.service.port
        if step.new_volume not in {v.name for v in port.list_volumes(step.target.stack)}:
            return
        if journal.read() != {"volume": step.new_volume, "container": step.old.id}:
            raise UpgradeError(
                f"volume {step.new_volume} already exists and was not made by this upgrade "
                f"(kept from an earlier one?); nothing was changed. Inspect it, then remove it "
                f"with `docker volume rm {step.new_volume}` and apply again"
            )
        self.service.report(f"removing {step.new_volume}, left by an interrupted upgrade")
        port.remove_volume(step.new_volume)

    def _upgrade(
        self, step: Step, action: Action, runner: WorkloadRunner, journal: Journal
    ) -> None:
        port, report = self.service.port, self.service.report
        if port.container_state(step.old.name).status != "running":
            report(f"starting {step.old.name} to dump it")
            port.start(step.old.name)
        wait_healthy(port, step.old.name)
        record = self.service.backup_held(step.target)
        tables = self._count(step.old.name, step)
        # Written before the volume exists: a journal without its volume is harmless, a volume
        # without its journal would be refused (and kept) by the next attempt.
        journal.write({"volume": step.new_volume, "container": step.old.id})
        try:
            report(f"{action.name}: backup {record.id} taken ({tables}); stopping {step.old.name}")
            port.stop(step.old.name, STOP_TIMEOUT)
            self._restore_fresh(step, record.id, tables, runner)
            crash_point("upgrade.restored")
            self._switch(step, runner)
        except BaseException as e:
            self._undo(step, runner)
            if isinstance(e, ReconcilerError | OSError):
                raise UpgradeError(
                    f"upgrade of {action.name} to {step.spec.image} failed and was undone "
                    f"({step.old.name} runs again on {step.old_volume}; backup {record.id} "
                    f"was kept): {self.service.mask_for(step.target)(str(e))}"
                ) from e
            raise
        journal.clear()
        report(
            f"{action.name}: upgraded to {step.spec.image} on {step.new_volume}; the old data "
            f"volume {step.old_volume} is kept (remove it with `docker volume rm "
            f"{step.old_volume}` once you no longer need it)"
        )

    def _count(self, container: str, step: Step) -> str:
        check = step.target.handling.check
        if not check:
            return "no check"
        mask = self.service.mask_for(step.target)
        lines = checked(self.service.port.exec_stdin(container, check, ()), "the check", mask)
        out = lines.output_tail.strip().splitlines()
        return f"{step.target.handling.check_label}: {out[-1].strip() if out else '?'}"

    def _restore_fresh(
        self, step: Step, backup_id: int, expected: str, runner: WorkloadRunner
    ) -> None:
        """The new major on the fresh volume, in a throwaway container: restore, then compare."""
        port, report = self.service.port, self.service.report
        marks = {
            labels.STACK: step.target.stack,
            labels.KIND: "volume",
            labels.NAME: step.new_volume,
            labels.HASH: spec_hash({"kind": "volume", "name": step.new_volume}),
            labels.REVISION: runner.revision,
            UPGRADED_FROM: step.old_volume,
        }
        report(f"creating volume {step.new_volume}")
        port.create_volume(step.new_volume, marks)
        crash_point("upgrade.volume-created")
        name = f"{step.target.stack}-{step.target.source}-restore-{backup_id}"
        with one_off(port, _loader(step), name, step.target.stack):
            wait_healthy(port, name)
            report(f"restoring backup {backup_id} into {step.spec.image} on {step.new_volume}")
            record = self.service.log.get(backup_id)
            assert record is not None
            chunks = read_chunks(check_file(record), record.compressed)
            mask = self.service.mask_for(step.target)
            checked(port.exec_stdin(name, step.engine.restore_command, chunks), "restoring", mask)
            found = self._count(name, step)
            if found != expected:
                raise UpgradeError(f"the restored copy has {found}, the old server had {expected}")
            report(f"restored copy checked ({found})")

    def _switch(self, step: Step, runner: WorkloadRunner) -> None:
        """The old container aside, the new one under the add-on's name, healthy; then the old
        container goes (its volume stays)."""
        port = self.service.port
        aside = _aside_name(step)
        if step.old.name != aside:
            port.rename(step.old.name, aside)
        crash_point("upgrade.old-aside")
        # Created, started and health-checked exactly as a normal create: same name, labels
        # and hash, so the next pass finds it current.
        runner.converge(step.workload, (), set())
        crash_point("upgrade.new-healthy")
        runner.remove(aside)

    def _undo(self, step: Step, runner: WorkloadRunner) -> None:
        """Back to the old version: the new container and the fresh volume go, the old returns."""
        port, report = self.service.port, self.service.report
        aside = _aside_name(step)
        names = {c.name for c in port.list_containers(step.target.stack)}
        # Each step on its own: a failing one must not keep the old server from coming back.
        if aside in names:
            if step.spec.name in names:
                with contextlib.suppress(ReconcilerError):
                    runner.remove(step.spec.name)
            with contextlib.suppress(ReconcilerError):
                port.rename(aside, step.spec.name)
        with contextlib.suppress(ReconcilerError):
            port.remove_volume(step.new_volume)
        report(f"upgrade undone; starting {step.spec.name} again")
        try:
            port.start(step.spec.name)
            wait_healthy(port, step.spec.name)
        except ReconcilerError as e:
            report(f"could not start {step.spec.name} again: {e}")


def _aside_name(step: Step) -> str:
    return step.spec.name + ASIDE_SUFFIX


def _loader(step: Step) -> OneOffSpec:
    """The new major with the add-on's own bootstrap variables (so its users and database are
    the ones the apps know), no network, no published port."""
    spec = step.spec
    return OneOffSpec(
        image=spec.image,
        command=step.engine.command or None,
        env=spec.env,
        volumes=(VolumeMount(step.new_volume, step.engine.data_path),),
        network=None,
        healthcheck=HealthSpec(step.engine.healthcheck, 1.0, 5.0, 180, 1.0),
    )


def resolve_step(action: Action) -> Step:
    """What an UPGRADE action means in Docker terms; refuses anything unsafe before acting."""
    workload = action.workload
    if workload is None or not workload.replicas:
        raise UpgradeError(f"add-on {action.name}: nothing to upgrade to")
    spec = workload.replicas[0]
    engine = CATALOG.get(dict(spec.user_labels).get(labels.ENGINE, ""))
    own = [c for c in action.live if c.name == spec.name] or [
        c for c in action.live if c.replaces is None
    ]
    if engine is None or not own:
        raise UpgradeError(f"add-on {action.name}: no live server to upgrade from")
    old = own[0]
    new_volume = next((m.volume for m in spec.volumes if m.target == engine.data_path), "")
    old_volume = next((v for v in old.volumes if v != new_volume), "")
    if not new_volume or new_volume in old.volumes:
        # Never run a new major on the old data: the planner binds a fresh volume first.
        raise UpgradeError(f"add-on {action.name}: the new version has no fresh data volume")
    target = _target(action, engine, old, old_volume)
    if target.handling.offline_restore or target.handling.volume_tar:
        raise UpgradeError(
            f"add-on {action.name}: {engine.name} restores only into a stopped server, which "
            "upgrade: dumpRestore does not support; migrate by hand"
        )
    return Step(target, engine, old, workload, spec, old_volume, new_volume)


def _target(action: Action, engine: Engine, old: LiveContainer, volume: str) -> Target:
    spec = action.workload.replicas[0] if action.workload else None
    assert spec is not None
    return Target(
        stack=spec.stack,
        source=action.name,
        job="",
        kind=ADDON,
        engine=engine,
        version=old.version,  # the backup is of the old server, and says so
        container=old.name,
        volume=volume,
        mount=VOLUME_MOUNT,
        image=old.image,
        helper_image="",  # no helper: the dump runs in the server itself
        apps=action.dependents,
    )


class Journal:
    """STATE_DIR/upgrades/STACK--ADDON.json: which fresh volume an upgrade in progress made,
    for which old container. Written (fsynced) before the volume is created."""

    def __init__(self, state_dir: Path, stack: str, addon: str) -> None:
        self.path = state_dir / "upgrades" / f"{stack}--{addon}.json"

    def read(self) -> dict[str, str] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None

    def write(self, entry: dict[str, str]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp = self.path.with_suffix(".tmp")
        with temp.open("w", encoding="utf-8") as handle:
            json.dump(entry, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
