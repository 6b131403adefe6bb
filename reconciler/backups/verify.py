"""Verification: restore a backup into a throwaway copy of its add-on and query it.

The copy runs from the add-on's own image, on a fresh scratch volume, with fresh throwaway
credentials, no published port and no network at all (loopback only); everything is removed
afterwards, whether the check passed or not.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from reconciler.addons.spec import Credentials, Engine
from reconciler.backups.engines import TAR_LIST
from reconciler.backups.files import read_chunks, sha256_of
from reconciler.backups.helpers import (
    IDLE,
    checked,
    helper_spec,
    masker,
    one_off,
    scratch_volume,
    wait_healthy,
)
from reconciler.backups.records import BackupRecord
from reconciler.backups.sources import Target
from reconciler.observed.port import DockerPort, OneOffSpec
from reconciler.state.errors import BackupError
from reconciler.state.model import HealthSpec, VolumeMount

Report = Callable[[str], None]


def check_file(record: BackupRecord) -> Path:
    """The record's file, after its checksum matched; nothing may use a file that differs."""
    path = Path(record.path)
    if not path.is_file():
        raise BackupError(f"backup {record.id}: file {path} is missing")
    if sha256_of(path) != record.sha256:
        raise BackupError(f"backup {record.id}: checksum mismatch, {path} is damaged")
    return path


def verify(port: DockerPort, target: Target, record: BackupRecord, report: Report) -> str:
    """Restore and check; return what the check saw (e.g. 'tables: 3'), raise on failure."""
    path = check_file(record)
    base = f"{target.stack}-{target.source}-verify-{record.id}"
    if target.tar or target.engine is None:
        with one_off(port, OneOffSpec(target.helper_image, IDLE), base, target.stack):
            result = port.exec_stdin(base, TAR_LIST, read_chunks(path, record.compressed))
        checked(result, "listing the archive", str)
        return f"entries: {result.output_tail.splitlines()[-1].strip()}"
    return _verify_engine(port, target, target.engine, record, path, base)


def _verify_engine(
    port: DockerPort, target: Target, engine: Engine, record: BackupRecord, path: Path, base: str
) -> str:
    creds = Credentials(engine.default_user, secrets.token_urlsafe(18), "app")
    mask = masker([creds.password])
    env = engine.bootstrap_env(creds)
    handling = target.handling
    with scratch_volume(port, f"{base}-data", target.stack) as volume:
        if handling.offline_restore:
            helper = helper_spec(target.helper_image, volume, engine.data_path)
            with one_off(port, helper, f"{base}-load", target.stack) as name:
                chunks = read_chunks(path, record.compressed)
                checked(port.exec_stdin(name, engine.restore_command, chunks), "loading", mask)
        spec = OneOffSpec(
            image=target.image,
            command=engine.command or None,
            env=tuple(sorted(env.items())),
            volumes=(VolumeMount(volume, engine.data_path),),
            network=None,
            healthcheck=HealthSpec(engine.healthcheck, 1.0, 5.0, 180, 1.0),
        )
        with one_off(port, spec, base, target.stack) as name:
            wait_healthy(port, name)
            if not handling.offline_restore:
                chunks = read_chunks(path, record.compressed)
                checked(port.exec_stdin(name, engine.restore_command, chunks), "restoring", mask)
            if not handling.check:
                return "restored"
            output = checked(port.exec_stdin(name, handling.check, ()), "the check", mask)
    lines = output.output_tail.strip().splitlines()
    return f"{handling.check_label}: {lines[-1].strip() if lines else '?'}"
