"""The backup flow against a fake DockerPort: streaming, records, failures, retention, restore."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from reconciler.backups.records import COMPLETED, FAILED, RUNNING
from reconciler.backups.restore import plan_restore, restore
from reconciler.backups.service import BackupService
from reconciler.manifests.models import Stack
from reconciler.observed.port import ContainerState, ExecResult, OneOffSpec
from reconciler.state.errors import BackupError, DockerApiError
from reconciler.state.model import LiveContainer, LiveVolume
from reconciler.store.db import Database

CHUNK = b"row,data\n" * 4096  # 36 KiB


def dump_head(command: Sequence[str]) -> bytes:
    """How the real tool's output starts (the backup checks it is a dump at all)."""
    script = " ".join(command)
    if "pg_dump" in script:
        return b"PGDMP\x01\x0f\x00\x04\x08\x01\x01\x01"
    if "tar" in script:
        return b"./".ljust(257, b"\0") + b"ustar  \0".ljust(255, b"\0")
    return b"/*M!999999\\- enable the sandbox mode */\n-- MariaDB dump 10.19  Distrib 11.4.2\n"


def dump_tail(command: Sequence[str]) -> bytes:
    """How the real tool's output ends (a dump cut short lacks it)."""
    script = " ".join(command)
    if "pg_dump" in script:
        return b""
    if "tar" in script:
        return b"\0" * 1024
    return b"\n-- Dump completed on 2026-11-22 10:02:47\n"


HEAD = dump_head(["mariadb-dump"])
TAIL = dump_tail(["mariadb-dump"])


@dataclass
class FakePort:
    """Just enough of DockerPort for backups; records what was done."""

    dump_chunks: int = 50
    dump_exit: int = 0
    dump_stderr: str = ""
    status: dict[str, str] = field(default_factory=dict)
    volumes: set[str] = field(default_factory=set)
    apps: list[LiveContainer] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    stdin: dict[str, bytes] = field(default_factory=dict)
    before_chunk: Callable[[int], None] | None = None
    specs: dict[str, OneOffSpec] = field(default_factory=dict)

    def container_state(self, name: str) -> ContainerState:
        if name not in self.status:
            raise DockerApiError(f"inspecting {name}: No such container", status=404)
        return ContainerState(self.status[name], "healthy", 0, "", False)

    def exec_stream(
        self, container: str, command: Sequence[str], sink: Callable[[bytes], None]
    ) -> ExecResult:
        self.calls.append(f"exec_stream {container}")
        if self.dump_chunks:
            sink(dump_head(command))
        for index in range(self.dump_chunks):
            if self.before_chunk:
                self.before_chunk(index)
            sink(CHUNK)
        if self.dump_chunks:
            sink(dump_tail(command))
        return ExecResult(self.dump_exit, self.dump_stderr)

    def exec_stdin(
        self, container: str, command: Sequence[str], source: Iterable[bytes]
    ) -> ExecResult:
        self.calls.append(f"exec_stdin {container}")
        self.stdin[container] = b"".join(source)
        return ExecResult(0, "3")

    def run_one_off(self, spec: OneOffSpec, name: str, labels: Mapping[str, str]) -> None:
        self.calls.append(f"run {name}")
        self.specs[name] = spec
        self.status[name] = "running"

    def remove(self, name: str) -> None:
        self.calls.append(f"remove {name}")
        self.status.pop(name, None)

    def list_volumes(self, stack: str) -> list[LiveVolume]:
        return [LiveVolume(v) for v in sorted(self.volumes)]

    def list_containers(self, stack: str) -> list[LiveContainer]:
        return list(self.apps)

    def create_volume(self, name: str, labels: Mapping[str, str]) -> None:
        self.calls.append(f"create volume {name}")

    def remove_volume(self, name: str) -> None:
        self.calls.append(f"remove volume {name}")
        self.volumes.discard(name)

    def stop(self, name: str, timeout: int) -> None:
        self.calls.append(f"stop {name}")
        self.status[name] = "exited"

    def start(self, name: str) -> None:
        self.calls.append(f"start {name}")
        self.status[name] = "running"

    def logs_tail(self, name: str, lines: int) -> str:
        return ""


def make_stack(**backup: object) -> Stack:
    return Stack.model_validate(
        {
            "version": 1,
            "stack": "shop",
            "settings": {"helperImage": "busybox:test"},
            "addons": {"db": {"type": "postgresql"}, "sql": {"type": "mariadb"}},
            "apps": {
                "web": {"image": "web:1", "addons": ["db"], "volumes": {"uploads": "/u"}},
            },
            "backups": {"nightly": {"addon": "sql", **backup}},
        }
    )


@pytest.fixture
def port() -> FakePort:
    return FakePort(status={"shop-db": "running", "shop-sql": "running"})


@pytest.fixture
def service(tmp_path: Path, port: FakePort) -> BackupService:
    return BackupService(port, Database(tmp_path / "state.db"), tmp_path)  # type: ignore[arg-type]


def files(service: BackupService) -> list[Path]:
    root = service.state_dir / "backups"
    return sorted(p for p in root.rglob("*") if p.is_file() and ".locks" not in p.parts)


def test_a_sql_dump_is_gzipped_checksummed_and_recorded(service: BackupService) -> None:
    record = service.backup(make_stack(), "sql")
    assert record.status == COMPLETED and record.job == "nightly" and record.kind == "addon"
    path = Path(record.path)
    assert path.name.startswith("sql-") and path.name.endswith(f"-{record.id}.sql.gz")
    assert path.parent == service.state_dir / "backups" / "shop" / "sql"
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == record.sha256 and len(data) == record.size
    assert gzip.decompress(data) == HEAD + CHUNK * 50 + TAIL
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert record.engine == "mariadb" and record.version == "11.4"


def test_a_postgres_custom_dump_is_stored_as_is(service: BackupService) -> None:
    record = service.backup(make_stack(), "db")  # ad hoc: no declared backup for db
    assert record.job == "" and record.path.endswith(".pgdump") and not record.compressed
    assert Path(record.path).read_bytes() == dump_head(["pg_dump"]) + CHUNK * 50


def test_a_failing_dump_leaves_a_failed_record_and_no_file(
    service: BackupService, port: FakePort
) -> None:
    earlier = service.backup(make_stack(), "sql")
    port.dump_exit, port.dump_stderr = 2, "mariadb-dump: Got error: 1045: Access denied"
    with pytest.raises(BackupError, match="exited with 2: mariadb-dump: Got error"):
        service.backup(make_stack(), "sql")
    failed = service.log.find("shop", "sql")[0]
    assert failed.status == FAILED and "Access denied" in failed.error
    assert files(service) == [Path(earlier.path)]  # the earlier backup is untouched
    assert Path(earlier.path).read_bytes()


def test_a_stopped_addon_fails_before_dumping(service: BackupService, port: FakePort) -> None:
    port.status["shop-sql"] = "exited"
    with pytest.raises(BackupError, match="shop-sql is not running"):
        service.backup(make_stack(), "sql")
    assert service.log.find("shop")[0].status == FAILED
    assert not any(c.startswith("exec_stream") for c in port.calls)


def test_an_unwritable_destination_is_a_failed_record(service: BackupService) -> None:
    target = service.state_dir / "backups" / "shop" / "sql"
    target.parent.mkdir(parents=True)
    target.write_text("a file where the directory should be")
    with pytest.raises(BackupError, match="cannot write to"):
        service.backup(make_stack(), "sql")
    record = service.log.find("shop")[0]
    assert record.status == FAILED and "cannot write" in record.error


def test_a_full_disk_mid_stream_removes_the_partial_file(
    service: BackupService, port: FakePort
) -> None:
    def disk_full(index: int) -> None:
        if index == 10:
            raise OSError(28, "No space left on device")

    port.before_chunk = disk_full
    with pytest.raises(BackupError, match="No space left on device"):
        service.backup(make_stack(), "sql")
    assert service.log.find("shop")[0].status == FAILED
    assert files(service) == []


def test_an_interrupt_mid_stream_is_recorded_and_reraised(
    service: BackupService, port: FakePort
) -> None:
    def interrupt(index: int) -> None:
        if index == 3:
            raise KeyboardInterrupt

    port.before_chunk = interrupt
    with pytest.raises(KeyboardInterrupt):
        service.backup(make_stack(), "sql")
    record = service.log.find("shop")[0]
    assert record.status == FAILED and record.error == "interrupted"
    assert files(service) == []


def test_a_crash_leaves_a_running_record_that_recover_fails(service: BackupService) -> None:
    backup_id = service.log.start("shop", "sql", "", "addon", "mariadb", "11.4")
    partial = service.state_dir / "backups" / "shop" / "sql" / "x.sql.gz"
    partial.parent.mkdir(parents=True)
    Path(str(partial) + ".partial").write_bytes(b"half")
    service.log.set_path(backup_id, str(partial), True)
    service.log.db.execute("UPDATE backups SET pid = ? WHERE id = ?", (2**22 + 12345, backup_id))
    assert [r.id for r in service.recover()] == [backup_id]
    record = service.log.get(backup_id)
    assert record is not None and record.status == FAILED and "interrupted" in record.error
    assert files(service) == []
    # A run of a live process (this one) is left alone.
    live = service.log.start("shop", "sql", "", "addon", "mariadb", "11.4")
    assert service.recover() == [] and service.log.get(live).status == RUNNING  # type: ignore[union-attr]


def test_no_password_in_the_recorded_error(service: BackupService, port: FakePort) -> None:
    creds = service.credentials.credentials("shop", "sql", "app", "app")
    port.dump_exit, port.dump_stderr = 1, f"connect failed for password {creds.password}"
    with pytest.raises(BackupError) as raised:
        service.backup(make_stack(), "sql")
    assert creds.password not in str(raised.value)
    assert creds.password not in service.log.find("shop")[0].error
    assert "***" in service.log.find("shop")[0].error


def test_retention_runs_after_each_backup(service: BackupService) -> None:
    ids = [service.backup(make_stack(retention=2), "nightly").id for _ in range(4)]
    kept = service.log.find("shop", "sql", COMPLETED)
    assert [r.id for r in kept] == ids[:-3:-1]
    assert len(files(service)) == 2


def test_one_backup_per_source_at_a_time(service: BackupService, port: FakePort) -> None:
    def nested(index: int) -> None:
        if index == 0:
            with pytest.raises(BackupError, match="already running"):
                service.backup(make_stack(), "sql")

    port.before_chunk = nested
    service.backup(make_stack(), "sql")


def test_volume_backup_goes_through_a_read_only_helper(
    service: BackupService, port: FakePort
) -> None:
    stack = make_stack()
    stack = stack.model_copy(
        update={"backups": {"files": make_volume_backup()}},
    )
    with pytest.raises(BackupError, match="volume shop-web-uploads does not exist"):
        service.backup(stack, "files")
    port.volumes.add("shop-web-uploads")
    record = service.backup(stack, "files")
    assert record.kind == "volume" and record.source == "web-uploads"
    assert record.path.endswith(".tar.gz")
    helper = f"shop-web-uploads-backup-{record.id}"
    assert port.calls[-3:] == [f"run {helper}", f"exec_stream {helper}", f"remove {helper}"]


def make_volume_backup() -> object:
    from reconciler.manifests.models import Backup

    return Backup.model_validate({"volume": {"app": "web", "name": "uploads"}})


def test_restore_checks_the_checksum_before_changing_anything(
    service: BackupService, port: FakePort
) -> None:
    record = service.backup(make_stack(), "db")
    with open(record.path, "r+b") as handle:
        handle.write(b"X")
    port.calls.clear()
    plan = plan_restore(service, make_stack(), record.id)
    with pytest.raises(BackupError, match="checksum mismatch"):
        restore(service, plan)
    assert port.calls == []


def test_restore_stops_connected_apps_and_starts_them_again(
    service: BackupService, port: FakePort
) -> None:
    record = service.backup(make_stack(), "db")
    port.apps = [
        LiveContainer("1", "shop-web-1", "app", "web", 1, "running", "Up", "", "", "", "", ""),
        LiveContainer("2", "shop-web-2", "app", "web", 2, "exited", "Exited", "", "", "", "", ""),
    ]
    port.calls.clear()
    restore(service, plan_restore(service, make_stack(), record.id))
    assert port.calls == ["stop shop-web-1", "exec_stdin shop-db", "start shop-web-1"]
    assert port.stdin["shop-db"] == dump_head(["pg_dump"]) + CHUNK * 50


def test_restore_refuses_other_stacks_engines_and_failed_backups(
    service: BackupService, port: FakePort
) -> None:
    record = service.backup(make_stack(), "db")
    with pytest.raises(BackupError, match="is a postgresql dump; add-on sql is mariadb"):
        plan_restore(service, make_stack(), record.id, to="sql")
    other = make_stack().model_copy(update={"stack": "other"})
    with pytest.raises(BackupError, match="belongs to stack shop"):
        plan_restore(service, other, record.id)
    port.dump_exit = 1
    with pytest.raises(BackupError):
        service.backup(make_stack(), "db")
    with pytest.raises(BackupError, match="only completed ones restore"):
        plan_restore(service, make_stack(), record.id + 1)
    with pytest.raises(BackupError, match="no backup with id 999"):
        plan_restore(service, make_stack(), 999)


def test_verify_records_the_check_and_removes_the_copy(
    service: BackupService, port: FakePort
) -> None:
    record = service.backup(make_stack(verify=True), "nightly")
    assert record.verified is True and record.verify_detail == "tables: 3"
    copy = f"shop-sql-verify-{record.id}"
    assert f"run {copy}" in port.calls and f"remove {copy}" in port.calls
    assert f"remove volume {copy}-data" in port.calls
    assert copy not in port.status


def test_a_failed_verification_is_recorded_not_raised(
    service: BackupService, port: FakePort
) -> None:
    def broken(*_: object) -> ExecResult:
        return ExecResult(1, "ERROR 1064 (42000): You have an error in your SQL syntax")

    port.exec_stdin = broken  # type: ignore[method-assign, assignment]
    record = service.backup(make_stack(verify=True), "nightly")
    assert record.status == COMPLETED and record.verified is False
    assert "SQL syntax" in record.verify_detail


def test_prune_applies_retention_and_removes_stray_partials(service: BackupService) -> None:
    for _ in range(3):
        service.backup(make_stack(), "sql")  # ad hoc: no retention yet
    stray = service.state_dir / "backups" / "shop" / "sql" / "old.sql.gz.partial"
    stray.write_bytes(b"left by a crash")
    deleted = service.prune(make_stack(retention=1))
    assert len(deleted) == 2 and not stray.exists()
    assert len(files(service)) == 1
    assert os.listdir(service.state_dir / "backups" / "shop" / "sql")


def test_a_dump_that_exits_0_with_no_output_is_a_failure(
    service: BackupService, port: FakePort
) -> None:
    earlier = service.backup(make_stack(), "sql")
    port.dump_chunks = 0
    with pytest.raises(BackupError, match="exited 0 but wrote nothing"):
        service.backup(make_stack(), "sql")
    assert service.log.find("shop", "sql")[0].status == FAILED
    assert files(service) == [Path(earlier.path)]


def test_free_space_is_checked_before_starting(
    service: BackupService, port: FakePort, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = service.backup(make_stack(), "sql")
    usage = shutil.disk_usage(service.state_dir)
    tiny = type(usage)(usage.total, usage.used, int(earlier.size * 1.1))
    monkeypatch.setattr(shutil, "disk_usage", lambda _: tiny)
    calls = len(port.calls)
    with pytest.raises(BackupError, match=r"bytes free in .* at least"):
        service.backup(make_stack(), "sql")
    assert "exec_stream shop-sql" not in port.calls[calls:], "nothing was dumped"
    assert files(service) == [Path(earlier.path)]


def _died_after_rename(service: BackupService, content: bytes) -> tuple[int, Path]:
    """A run whose process was killed after its file got the final name, before recording."""
    backup_id = service.log.start("shop", "sql", "", "addon", "mariadb", "11.4")
    final = service.state_dir / "backups" / "shop" / "sql" / f"sql-{backup_id}.sql.gz"
    final.parent.mkdir(parents=True, exist_ok=True)
    final.write_bytes(content)
    service.log.set_path(backup_id, str(final), True)
    service.log.db.execute("UPDATE backups SET pid = ? WHERE id = ?", (2**22 + 12345, backup_id))
    return backup_id, final


def test_recover_records_a_whole_file_whose_run_died_before_recording_it(
    service: BackupService,
) -> None:
    data = gzip.compress(CHUNK * 3)
    backup_id, final = _died_after_rename(service, data)
    assert service.recover() == []
    record = service.log.get(backup_id)
    assert record is not None and record.status == COMPLETED
    assert (record.size, record.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert files(service) == [final]


def test_recover_fails_and_removes_a_torn_file(service: BackupService) -> None:
    backup_id, _ = _died_after_rename(service, gzip.compress(CHUNK * 3)[:-20])
    assert [r.id for r in service.recover()] == [backup_id]
    assert service.log.get(backup_id).status == FAILED  # type: ignore[union-attr]
    assert files(service) == []


def test_recover_finishes_a_retention_deletion(service: BackupService) -> None:
    first, second = (service.backup(make_stack(), "nightly") for _ in range(2))
    service.log.mark_expiring(first.id)  # a crash right after: file and row both still there
    assert service.log.find("shop", "sql", COMPLETED) == [second]  # no longer counts
    assert service.recover() == []
    assert service.log.get(first.id) is None
    assert files(service) == [Path(second.path)]


def test_a_backup_removes_helpers_a_killed_run_left(service: BackupService, port: FakePort) -> None:
    leftover = LiveContainer(
        id="c1", name="shop-sql-verify-7-load", kind="backup", owner="shop-sql-verify-7-load",
        replica=0, state="running", status="Up", image="x", image_id="", spec_hash="",
        revision="", spec_doc="",
    )  # fmt: skip
    port.apps.append(leftover)
    port.volumes |= {"shop-sql-verify-7-data", "shop-sqlx-backup-1", "shop-web-uploads"}
    service.backup(make_stack(), "sql")
    assert "remove shop-sql-verify-7-load" in port.calls
    assert port.volumes == {"shop-sqlx-backup-1", "shop-web-uploads"}


def test_a_dump_that_exits_0_with_an_error_on_stderr_fails(
    service: BackupService, port: FakePort
) -> None:
    earlier = service.backup(make_stack(), "sql")
    port.dump_stderr = "mariadb-dump: Couldn't execute 'SHOW TRIGGERS': Got error 28 (1030)"
    with pytest.raises(BackupError, match=r"exited 0 but reported an error: .*Got error 28"):
        service.backup(make_stack(), "sql")
    failed = service.log.find("shop", "sql")[0]
    assert failed.status == FAILED and "Got error 28" in failed.error
    assert files(service) == [Path(earlier.path)]


def test_output_that_is_not_a_dump_fails_even_with_exit_0(
    service: BackupService, port: FakePort
) -> None:
    creds = service.credentials.credentials("shop", "sql", "app", "app")

    # What a wrapper prints to stdout when the tool is missing, then exits 0 anyway.
    def not_a_dump(container: str, command: object, sink: Callable[[bytes], None]) -> ExecResult:
        sink(f"sh: mariadb-dump: not found (pw {creds.password})\n".encode())
        return ExecResult(0, "")

    port.exec_stream = not_a_dump  # type: ignore[method-assign]
    with pytest.raises(BackupError, match=r"output is not a dump .* began: 'sh: mariadb-dump") as e:
        service.backup(make_stack(), "sql")
    assert creds.password not in str(e.value) and "***" in str(e.value)
    assert service.log.find("shop", "sql")[0].status == FAILED
    assert files(service) == []


def test_a_dump_cut_short_fails_even_with_exit_0(service: BackupService, port: FakePort) -> None:
    def cut_short(
        container: str, command: Sequence[str], sink: Callable[[bytes], None]
    ) -> ExecResult:
        sink(dump_head(command))
        sink(CHUNK)  # and then nothing: no "-- Dump completed" line
        return ExecResult(0, "")

    port.exec_stream = cut_short  # type: ignore[method-assign]
    with pytest.raises(BackupError, match="cut short"):
        service.backup(make_stack(), "sql")
    assert service.log.find("shop", "sql")[0].status == FAILED
    assert files(service) == []
