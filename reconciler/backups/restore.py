"""Restore a recorded backup into its add-on or volume, or into another declared add-on.

The checksum is verified before anything changes. Apps connected to the target are stopped
for the restore and started again afterwards, also when the restore fails. Every restore is
recorded (restore_records.py): who asked, into what, how it ended and why.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from reconciler.apply.lock import stack_lock
from reconciler.backups.engines import TAR_IN
from reconciler.backups.files import read_chunks
from reconciler.backups.helpers import (
    STOP_TIMEOUT,
    StoppedApps,
    checked,
    helper_spec,
    one_off,
    require_running,
    wait_healthy,
)
from reconciler.backups.records import COMPLETED, BackupRecord
from reconciler.backups.restore_records import Origin, cli_origin
from reconciler.backups.service import BackupService, Started, require_volume, source_lock
from reconciler.backups.sources import ADDON, Target, addon_target, volume_target
from reconciler.backups.verify import check_file
from reconciler.manifests.models import Stack
from reconciler.state.errors import BackupError, ReconcilerError
from reconciler.state.faults import crash_point


@dataclass(frozen=True)
class RestorePlan:
    """What a restore will do, for the confirmation prompt; nothing has changed yet."""

    record: BackupRecord
    target: Target

    def describe(self) -> str:
        into = self.target.container or self.target.volume
        apps = ", ".join(self.target.apps) or "none"
        return (
            f"restore backup {self.record.id} ({self.record.source}, {self.record.started_at}) "
            f"into {into}; its data is replaced; apps stopped meanwhile: {apps}"
        )


def plan_restore(
    service: BackupService, stack: Stack, backup_id: int, to: str | None = None
) -> RestorePlan:
    record = service.log.get(backup_id)
    if record is None:
        raise BackupError(f"no backup with id {backup_id}")
    if record.status != COMPLETED:
        raise BackupError(f"backup {backup_id} is {record.status}; only completed ones restore")
    if record.stack != stack.stack:
        raise BackupError(f"backup {backup_id} belongs to stack {record.stack}, not {stack.stack}")
    return RestorePlan(record, _target(stack, record, to))


def _target(stack: Stack, record: BackupRecord, to: str | None) -> Target:
    if record.kind != ADDON:
        if to is not None:
            raise BackupError("--to applies to add-on backups only")
        for app, spec in stack.apps.items():
            for volume in spec.volumes:
                if f"{app}-{volume}" == record.source:
                    return volume_target(stack, app, volume)
        raise BackupError(f"the volume {record.source} is no longer declared")
    target = addon_target(stack, to or record.source)
    assert target.engine is not None
    if target.engine.name != record.engine:
        raise BackupError(
            f"backup {record.id} is a {record.engine} dump; add-on {target.source} "
            f"is {target.engine.name}"
        )
    if target.engine.name in ("redis", "valkey") and stack.addons[target.source].config.get(
        "appendonly"
    ):
        raise BackupError(
            f"{target.source} has appendonly: true, which would load its AOF instead of the "
            "restored RDB; set appendonly: false, apply, restore, then turn it back on"
        )
    return target


def restore(
    service: BackupService,
    plan: RestorePlan,
    *,
    source_locked: bool = False,
    origin: Origin | None = None,
    started: Started | None = None,
) -> int:
    """Carry out a plan made by plan_restore and return its restore record's id; raise
    BackupError if anything fails (the record says why, masked).

    `source_locked`: the caller already holds source_lock for the plan's target (the API takes
    it before answering, so a busy source is refused at once). `origin`: who asked (the CLI's
    user by default). `started` is called with the record's id as soon as the record exists."""
    record, target = plan.record, plan.target
    held = contextlib.nullcontext() if source_locked else source_lock(service.state_dir, target)
    # The record is written once the source is ours: a restore refused as busy never began,
    # like a busy backup. A checksum mismatch did begin, and its record says so.
    with held:
        restore_id = service.restores.start(
            record.id, target.stack, target.source, record.source, target.kind,
            origin or cli_origin(),
        )  # fmt: skip
        mask = service.mask_for(target)
        try:
            if started is not None:
                started(restore_id)
            crash_point("restore.started")
            _carry_out(service, plan)
            crash_point("restore.before-record")
        except BaseException as e:
            reason = mask(_reason(e))
            service.restores.fail(restore_id, reason)
            if isinstance(e, ReconcilerError | OSError):
                into = target.container or target.volume
                raise BackupError(
                    f"restore {restore_id} of backup {record.id} into {into} failed: {reason}"
                ) from e
            raise
        service.restores.complete(restore_id)
    return restore_id


def _carry_out(service: BackupService, plan: RestorePlan) -> None:
    record, target = plan.record, plan.target
    path = check_file(record)  # before anything is stopped or written
    report = service.report
    # The stack lock keeps a daemon's apply or drift repair from starting what the restore
    # stopped; the source lock (held by the caller) keeps a scheduled backup of it out.
    with stack_lock(target.stack, report):
        service.sweep(target)
        if target.tar or target.engine is None:
            _restore_volume(service, target, record, path)
            return
        if target.handling.offline_restore:
            _restore_offline(service, target, record, path)
            return
        require_running(service.port, target.container, f"restoring into {target.source}")
        with StoppedApps(service.port, target.stack, target.apps, report):
            report(f"restoring backup {record.id} into {target.container}")
            chunks = read_chunks(path, record.compressed)
            result = service.port.exec_stdin(
                target.container, target.engine.restore_command, chunks
            )
            checked(result, "the restore command", service.mask_for(target))


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return f"reading the backup failed: {error.strerror}"
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    return str(error) or type(error).__name__


def _restore_offline(
    service: BackupService, target: Target, record: BackupRecord, path: Path
) -> None:
    """Redis and Valkey read their RDB only at start: stop, replace the file, start."""
    port, engine = service.port, target.engine
    assert engine is not None
    require_running(port, target.container, f"restoring into {target.source}")
    with StoppedApps(port, target.stack, target.apps, service.report):
        service.report(f"stopping {target.container}")
        port.stop(target.container, STOP_TIMEOUT)
        try:
            spec = helper_spec(target.helper_image, target.volume, engine.data_path)
            name = f"{target.stack}-{target.source}-restore-{record.id}"
            with one_off(port, spec, name, target.stack):
                service.report(f"writing backup {record.id} into {target.volume}")
                chunks = read_chunks(path, record.compressed)
                result = port.exec_stdin(name, engine.restore_command, chunks)
                checked(result, "writing the snapshot", service.mask_for(target))
        finally:
            service.report(f"starting {target.container}")
            port.start(target.container)
        wait_healthy(port, target.container)


def _restore_volume(
    service: BackupService, target: Target, record: BackupRecord, path: Path
) -> None:
    port = service.port
    require_volume(port, target, f"restoring into {target.volume}")
    # The apps using the volume are stopped, and so is the add-on owning it (MinIO).
    with StoppedApps(port, target.stack, target.apps, service.report):
        stopped_addon = target.kind == ADDON and _stop_if_running(service, target.container)
        try:
            spec = helper_spec(target.helper_image, target.volume, target.mount)
            name = f"{target.stack}-{target.source}-restore-{record.id}"
            with one_off(port, spec, name, target.stack):
                service.report(f"extracting backup {record.id} into {target.volume}")
                result = port.exec_stdin(name, TAR_IN, read_chunks(path, record.compressed))
                checked(result, "extracting the archive", str)
        finally:
            if stopped_addon:
                port.start(target.container)


def _stop_if_running(service: BackupService, container: str) -> bool:
    if service.port.container_state(container).status != "running":
        return False
    service.port.stop(container, STOP_TIMEOUT)
    return True
