"""Backup records in the state database: one row per run, written when the run starts."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler.store.db import Database

RUNNING, COMPLETED, FAILED = "running", "completed", "failed"
#: Retention chose it: the file is being deleted. A record in this state never counts as a
#: backup, and whoever finds one (after a crash) finishes the deletion.
EXPIRING = "expiring"
#: Error text kept per record: the end of a command's stderr is where the reason is.
ERROR_CHARS = 2000


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


@dataclass(frozen=True)
class BackupRecord:
    id: int
    stack: str
    source: str  # the add-on's name, or "APP-VOLUME" for an app's volume
    job: str  # the declared backup's name; "" for an ad-hoc backup
    kind: str  # addon | volume
    engine: str
    version: str
    path: str
    size: int
    sha256: str
    compressed: bool
    started_at: str
    finished_at: str | None
    status: str
    error: str
    verified: bool | None
    verify_detail: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> BackupRecord:
        verified = row["verified"]
        return cls(
            id=int(row["id"]), stack=row["stack"], source=row["source"], job=row["job"],
            kind=row["kind"], engine=row["engine"], version=row["version"], path=row["path"],
            size=int(row["size"]), sha256=row["sha256"], compressed=bool(row["compressed"]),
            started_at=row["started_at"], finished_at=row["finished_at"], status=row["status"],
            error=row["error"], verified=None if verified is None else bool(verified),
            verify_detail=row["verify_detail"],
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "stack": self.stack, "source": self.source, "job": self.job,
            "kind": self.kind, "engine": self.engine, "version": self.version,
            "path": self.path, "size": self.size, "sha256": self.sha256,
            "compressed": self.compressed, "startedAt": self.started_at,
            "finishedAt": self.finished_at, "status": self.status, "error": self.error,
            "verified": self.verified, "verifyDetail": self.verify_detail,
        }  # fmt: skip


class BackupLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def start(self, stack: str, source: str, job: str, kind: str, engine: str, version: str) -> int:
        return self.db.execute(
            "INSERT INTO backups (stack, source, job, kind, engine, version, started_at, status,"
            " pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (stack, source, job, kind, engine, version, now(), RUNNING, os.getpid()),
        )

    def set_path(self, backup_id: int, path: str, compressed: bool) -> None:
        self.db.execute(
            "UPDATE backups SET path = ?, compressed = ? WHERE id = ?",
            (path, int(compressed), backup_id),
        )

    def complete(self, backup_id: int, size: int, sha256: str) -> None:
        self.db.execute(
            "UPDATE backups SET size = ?, sha256 = ?, finished_at = ?, status = ? WHERE id = ?",
            (size, sha256, now(), COMPLETED, backup_id),
        )

    def fail(self, backup_id: int, error: str) -> None:
        self.db.execute(
            "UPDATE backups SET finished_at = ?, status = ?, error = ? WHERE id = ?",
            (now(), FAILED, error[-ERROR_CHARS:], backup_id),
        )

    def set_verified(self, backup_id: int, ok: bool, detail: str) -> None:
        self.db.execute(
            "UPDATE backups SET verified = ?, verify_detail = ? WHERE id = ?",
            (int(ok), detail[-ERROR_CHARS:], backup_id),
        )

    def get(self, backup_id: int) -> BackupRecord | None:
        rows = self.db.query("SELECT * FROM backups WHERE id = ?", (backup_id,))
        return BackupRecord.from_row(rows[0]) if rows else None

    def find(
        self, stack: str | None = None, source: str | None = None, status: str | None = None
    ) -> list[BackupRecord]:
        """Newest first."""
        clauses, params = [], []
        for column, value in (("stack", stack), ("source", source), ("status", status)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.db.query(f"SELECT * FROM backups{where} ORDER BY id DESC", params)
        return [BackupRecord.from_row(row) for row in rows]

    def last_started(self, stack: str, job: str) -> str | None:
        """When the declared backup `job` last started (any outcome), for missed-run checks."""
        rows = self.db.query(
            "SELECT max(started_at) AS at FROM backups WHERE stack = ? AND job = ?", (stack, job)
        )
        return str(rows[0]["at"]) if rows and rows[0]["at"] else None

    def delete(self, backup_id: int) -> None:
        self.db.execute("DELETE FROM backups WHERE id = ?", (backup_id,))

    def mark_expiring(self, backup_id: int) -> None:
        self.db.execute(
            "UPDATE backups SET status = ? WHERE id = ? AND status = ?",
            (EXPIRING, backup_id, COMPLETED),
        )

    def interrupted(self) -> list[BackupRecord]:
        """Runs still marked running whose process is gone (a crash, a kill -9)."""
        rows = self.db.query("SELECT * FROM backups WHERE status = ?", (RUNNING,))
        return [BackupRecord.from_row(row) for row in rows if not pid_alive(int(row["pid"]))]
