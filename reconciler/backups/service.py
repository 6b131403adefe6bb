"""Running backups: stream a dump to disk, record it, verify it, apply retention.

A failure at any step leaves a `failed` record with the reason and no partial file; earlier
backups are never touched by a failing run.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from reconciler.backups import verify
from reconciler.backups.engines import TAR_OUT
from reconciler.backups.files import PARTIAL, StreamWriter, backup_dir, read_chunks, sha256_of
from reconciler.backups.helpers import (
    checked,
    helper_spec,
    masker,
    one_off,
    require_running,
    sweep_leftovers,
)
from reconciler.backups.outputcheck import HeadProbe, reported_error
from reconciler.backups.records import (
    COMPLETED,
    EXPIRING,
    FAILED,
    BackupLog,
    BackupRecord,
    parse_time,
)
from reconciler.backups.restore_records import RestoreLog
from reconciler.backups.retention import Candidate, to_delete
from reconciler.backups.sources import ADDON, Target, resolve, source_targets
from reconciler.manifests.models import Stack
from reconciler.observed.port import DockerPort, ExecResult
from reconciler.secrets.credentials import CredentialStore
from reconciler.state.errors import BackupError, ReconcilerError
from reconciler.state.faults import crash_point
from reconciler.store.db import Database

Report = Callable[[str], None]
#: Told the new record's id once it exists (the API answers with it while the dump runs).
Started = Callable[[int], None]
#: Failed records stay this long for `backups` to show; then prune removes them.
FAILED_RECORD_DAYS = 30


FREE_SPACE_FACTOR = 1.2


def _quiet(_: str) -> None:
    pass


class SourceBusy(BackupError):
    """A backup or restore of the same source holds its lock (in this or another process)."""


class BackupService:
    """Backups of one state directory's stacks; safe to use from several threads."""

    def __init__(
        self, port: DockerPort, db: Database, state_dir: Path, report: Report = _quiet
    ) -> None:
        self.port = port
        self.state_dir = state_dir
        self.report = report
        self.log = BackupLog(db)
        self.restores = RestoreLog(db)
        self.credentials = CredentialStore(state_dir)

    def mask_for(self, target: Target) -> Callable[[str], str]:
        creds = self.credentials.load(target.stack, target.source) if target.kind == ADDON else None
        return masker([creds.password] if creds else [])

    def backup(self, stack: Stack, name: str, started: Started | None = None) -> BackupRecord:
        """Back up a declared backup or an add-on now; raise BackupError if it fails.

        `started` is called with the record's id as soon as the record exists."""
        target = resolve(stack, name)
        # Verify and retention stay under the lock too: the next holder sweeps helpers it finds
        # as a dead process's leftovers, so none may be in use by a live one.
        with source_lock(self.state_dir, target):
            self.sweep(target)
            backup_id = self._run(target, started)
            if target.verify:
                self.verify(target, backup_id)
            if target.policy is not None:
                self.apply_retention(target)
        record = self.log.get(backup_id)
        assert record is not None
        return record

    def backup_held(self, target: Target) -> BackupRecord:
        """A backup of `target` now, for a caller that already holds its source lock (an
        add-on upgrade takes its rollback point this way); raise BackupError if it fails."""
        record = self.log.get(self._run(target))
        assert record is not None
        return record

    def _run(self, target: Target, started: Started | None = None) -> int:
        backup_id = self.log.start(
            target.stack, target.source, target.job, target.kind,
            target.engine.name if target.engine else "", target.version,
        )  # fmt: skip
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        final = backup_dir(self.state_dir, target.stack, target.source) / (
            f"{target.source}-{stamp}-{backup_id}.{target.extension}"
        )
        self.log.set_path(backup_id, str(final), target.compressed)
        self.report(f"backup {backup_id}: {target.source} → {final}")
        mask = self.mask_for(target)
        writer: StreamWriter | None = None
        try:
            if started is not None:
                started(backup_id)
            self._check_free_space(target, final.parent)
            writer = _open(final, target.compressed)
            probe = HeadProbe(writer.write, target.shape)
            _check_output(self._dump(target, backup_id, probe.write), probe, writer, mask)
            size, sha256 = writer.commit()
            crash_point("backup.before-record")
        except BaseException as e:
            if writer is not None:
                writer.discard()
            reason = mask(_reason(e))
            self.log.fail(backup_id, reason)
            if isinstance(e, ReconcilerError | OSError):
                raise BackupError(f"backup {backup_id} of {target.source} failed: {reason}") from e
            raise
        self.log.complete(backup_id, size, sha256)
        self.report(f"backup {backup_id}: completed, {size} bytes, sha256 {sha256[:12]}")
        return backup_id

    def sweep(self, target: Target) -> None:
        """With the source lock held: remove what a killed run of this source left in Docker."""
        for name in sweep_leftovers(self.port, target.stack, target.source):
            self.report(f"removed {name}, left behind by an interrupted run")

    def _check_free_space(self, target: Target, directory: Path) -> None:
        """Refuse to start without 1.2x the last good backup's size free at the destination."""
        done = self.log.find(stack=target.stack, source=target.source, status="completed")
        if not done or not done[0].size:
            return
        needed = int(done[0].size * FREE_SPACE_FACTOR)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        free = shutil.disk_usage(directory).free
        if free < needed:
            raise BackupError(
                f"only {free} bytes free in {directory}; the last backup of {target.source} "
                f"took {done[0].size}, so at least {needed} are needed"
            )

    def _dump(self, target: Target, backup_id: int, sink: Callable[[bytes], None]) -> ExecResult:
        what = f"backing up {target.source}"
        if not target.tar:
            assert target.engine is not None
            require_running(self.port, target.container, what)
            return self.port.exec_stream(target.container, target.engine.backup_command, sink)
        require_volume(self.port, target, what)
        spec = helper_spec(target.helper_image, target.volume, target.mount, read_only=True)
        name = f"{target.stack}-{target.source}-backup-{backup_id}"
        with one_off(self.port, spec, name, target.stack):
            return self.port.exec_stream(name, TAR_OUT, sink)

    def verify(self, target: Target, backup_id: int) -> bool:
        """Restore into a throwaway copy and check it; the result is recorded, not raised."""
        record = self.log.get(backup_id)
        assert record is not None
        self.report(f"backup {backup_id}: verifying in a throwaway container")
        try:
            detail = verify.verify(self.port, target, record, self.report)
            ok = True
        except (ReconcilerError, OSError) as e:
            detail, ok = self.mask_for(target)(_reason(e)), False
        self.log.set_verified(backup_id, ok, detail)
        self.report(f"backup {backup_id}: verified {'ok' if ok else 'FAILED'}: {detail}")
        return ok

    def apply_retention(self, target: Target) -> list[int]:
        """Delete this source's completed backups beyond its policy; return their ids."""
        if target.policy is None:
            return []
        records = self.log.find(target.stack, target.source, COMPLETED)
        candidates = [Candidate(r.id, parse_time(r.finished_at or r.started_at)) for r in records]
        doomed = to_delete(candidates, target.policy, ZoneInfo(target.timezone))
        paths = {r.id: r.path for r in records}
        for backup_id in doomed:
            # Marked first: a crash between the unlink and the delete must not leave a
            # "completed" record whose file is gone. recover() finishes what was marked.
            self.log.mark_expiring(backup_id)
            crash_point("retention.marked")
            self._expire(backup_id, paths[backup_id])
            self.report(f"retention: deleted backup {backup_id} of {target.source}")
        return doomed

    def _expire(self, backup_id: int, path: str) -> None:
        if path:
            Path(path).unlink(missing_ok=True)
            crash_point("retention.unlinked")
        self.log.delete(backup_id)

    def prune(self, stack: Stack) -> list[int]:
        """Housekeeping: retention for every declared backup, old failed records, stray files."""
        deleted: list[int] = []
        for target in source_targets(stack).values():
            try:
                with source_lock(self.state_dir, target):
                    deleted += self.apply_retention(target)
            except SourceBusy:
                continue  # the running backup applies retention itself when it ends
        cutoff = datetime.now(UTC) - timedelta(days=FAILED_RECORD_DAYS)
        for record in self.log.find(stack.stack, status=FAILED):
            if parse_time(record.started_at) < cutoff:
                self.log.delete(record.id)
        running = {r.path for r in self.log.find(stack.stack, status="running")}
        for partial in (self.state_dir / "backups" / stack.stack).glob(f"*/*{PARTIAL}"):
            if str(partial)[: -len(PARTIAL)] not in running:
                partial.unlink(missing_ok=True)
        return deleted

    def recover(self) -> list[BackupRecord]:
        """After a crash: settle the runs that died with their process; return the failed ones.

        A run killed after its file got its final name (written, fsynced, renamed) is complete
        and is recorded as such; any other becomes a failed record and its partial file goes.
        Deletions that retention started are finished, and restores that died with their
        process are recorded as failed (interrupted)."""
        for restore in self.restores.fail_interrupted():
            self.report(
                f"restore {restore.id} (backup {restore.backup_id} into {restore.source}) was "
                "interrupted; marked failed"
            )
        failed = []
        for record in self.log.interrupted():
            if not (record.path and self._adopt(record)):
                self.log.fail(record.id, "interrupted: the reconciler stopped during the backup")
                failed.append(record)
                if record.path:  # a torn file under the final name is no backup either
                    Path(record.path).unlink(missing_ok=True)
            if record.path:
                Path(record.path + PARTIAL).unlink(missing_ok=True)
        for record in self.log.find(status=EXPIRING):
            self._expire(record.id, record.path)
        return failed

    def _adopt(self, record: BackupRecord) -> bool:
        """Record a whole file whose run died before recording it; False if there is none."""
        path = Path(record.path)
        if not path.is_file():
            return False
        try:
            for _ in read_chunks(path, record.compressed):
                pass  # a compressed file must end its stream; a torn one is not adopted
        except (BackupError, OSError, zlib.error):
            return False
        self.log.complete(record.id, path.stat().st_size, sha256_of(path))
        self.report(f"backup {record.id}: recorded after an interruption ({path.name})")
        return True


def _check_output(
    result: ExecResult, probe: HeadProbe, writer: StreamWriter, mask: Callable[[str], str]
) -> None:
    """Fail a dump that exited 0 without producing one (checks in order of certainty)."""
    what = "the dump command"
    checked(result, what, mask)
    if writer.raw_bytes == 0:
        # An exit code of 0 with no output is a dump of nothing, not a backup.
        raise BackupError(f"{what} exited 0 but wrote nothing")
    error = reported_error(result.output_tail)
    if error is not None:
        raise BackupError(f"{what} exited 0 but reported an error: {mask(error)}")
    try:
        probe.check(what)
    except BackupError as e:
        raise BackupError(mask(str(e))) from None


def _open(final: Path, compress: bool) -> StreamWriter:
    try:
        return StreamWriter(final, compress)
    except OSError as e:
        raise BackupError(f"cannot write to {final.parent}: {e.strerror or e}") from e


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return f"writing the backup failed: {error.strerror}"
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    return str(error) or type(error).__name__


def require_volume(port: DockerPort, target: Target, what: str) -> None:
    # Mounting a missing volume would silently create an empty one and back that up.
    if target.volume not in {v.name for v in port.list_volumes(target.stack)}:
        raise BackupError(f"{what}: volume {target.volume} does not exist; apply first")


@contextlib.contextmanager
def source_lock(state_dir: Path, target: Target) -> Iterator[None]:
    """One backup or restore per source at a time, across processes (CLI and daemon)."""
    # Beside the backups, not among them: an unwritable destination must still get its
    # failed record, which needs the lock first.
    directory = state_dir / "backups" / ".locks"
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle = (directory / f"{target.stack}--{target.source}.lock").open("a")
    except OSError as e:
        raise BackupError(f"cannot write to {directory}: {e.strerror or e}") from e
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise SourceBusy(f"a backup or restore of {target.source} is already running") from e
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
