"""Restore records in the state database: one row per restore, written when it starts.

Restores overwrite data, so each one is kept (who asked, through what, into which target, how
it ended and why) for `reconciler restores` and `GET /api/v1/restores`.
"""

from __future__ import annotations

import getpass
import os
import sqlite3
from dataclasses import dataclass
from typing import Any

from reconciler.backups.records import (
    COMPLETED,
    ERROR_CHARS,
    FAILED,
    RUNNING,
    now,
    parse_time,
    pid_alive,
)
from reconciler.store.db import Database

RESTORE_STATUSES = (RUNNING, COMPLETED, FAILED)
#: The reason an interrupted restore's record gives: the target may hold part of the backup.
INTERRUPTED = (
    "interrupted: the reconciler stopped during the restore; the target may be partly "
    "restored and its apps stopped (the next apply starts them)"
)


@dataclass(frozen=True)
class Origin:
    """Who asked for a restore and through what: cli, api, ..."""

    trigger: str
    actor: str = ""  # the API token's name, or the local user for the CLI
    peer: str = ""  # the API caller's address


def cli_origin() -> Origin:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid (containers)
        user = ""
    return Origin("cli", user)


@dataclass(frozen=True)
class RestoreRecord:
    id: int
    backup_id: int
    stack: str
    source: str  # the target: an add-on, or "APP-VOLUME"
    from_source: str  # what the backup was taken of
    kind: str  # addon | volume
    trigger: str
    actor: str
    peer: str
    started_at: str
    finished_at: str | None
    status: str
    error: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> RestoreRecord:
        return cls(
            id=int(row["id"]), backup_id=int(row["backup_id"]), stack=row["stack"],
            source=row["source"], from_source=row["from_source"], kind=row["kind"],
            trigger=row["trigger"], actor=row["actor"], peer=row["peer"],
            started_at=row["started_at"], finished_at=row["finished_at"], status=row["status"],
            error=row["error"],
        )  # fmt: skip

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        took = parse_time(self.finished_at) - parse_time(self.started_at)
        return round(took.total_seconds(), 3)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "backupId": self.backup_id, "stack": self.stack,
            "source": self.source, "fromSource": self.from_source, "kind": self.kind,
            "trigger": self.trigger, "actor": self.actor, "peer": self.peer,
            "startedAt": self.started_at, "finishedAt": self.finished_at,
            "seconds": self.seconds, "status": self.status, "error": self.error,
        }  # fmt: skip


class RestoreLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def start(
        self, backup_id: int, stack: str, source: str, from_source: str, kind: str, origin: Origin
    ) -> int:
        return self.db.execute(
            "INSERT INTO restores (backup_id, stack, source, from_source, kind, trigger, actor,"
            " peer, started_at, status, pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                backup_id, stack, source, from_source, kind, origin.trigger, origin.actor,
                origin.peer, now(), RUNNING, os.getpid(),
            ),
        )  # fmt: skip

    def complete(self, restore_id: int) -> None:
        self.db.execute(
            "UPDATE restores SET finished_at = ?, status = ? WHERE id = ?",
            (now(), COMPLETED, restore_id),
        )

    def fail(self, restore_id: int, error: str) -> None:
        """`error` must already be masked: it is kept and shown as is."""
        self.db.execute(
            "UPDATE restores SET finished_at = ?, status = ?, error = ? WHERE id = ?",
            (now(), FAILED, error[-ERROR_CHARS:], restore_id),
        )

    def get(self, restore_id: int) -> RestoreRecord | None:
        rows = self.db.query("SELECT * FROM restores WHERE id = ?", (restore_id,))
        return RestoreRecord.from_row(rows[0]) if rows else None

    def find(self, stack: str | None = None, source: str | None = None) -> list[RestoreRecord]:
        """Newest first."""
        clauses, params = [], []
        for column, value in (("stack", stack), ("source", source)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.db.query(f"SELECT * FROM restores{where} ORDER BY id DESC", params)
        return [RestoreRecord.from_row(row) for row in rows]

    def fail_interrupted(self) -> list[RestoreRecord]:
        """Mark failed the restores still running whose process is gone; return them."""
        rows = self.db.query("SELECT * FROM restores WHERE status = ?", (RUNNING,))
        dead = [RestoreRecord.from_row(row) for row in rows if not pid_alive(int(row["pid"]))]
        for record in dead:
            # Conditional: a live process never races this, but a second recovering one might.
            self.db.execute(
                "UPDATE restores SET finished_at = ?, status = ?, error = ? "
                "WHERE id = ? AND status = ?",
                (now(), FAILED, INTERRUPTED, record.id, RUNNING),
            )
        return dead
