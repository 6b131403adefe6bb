"""Task run records in the state database: one row per attempt."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from typing import Any

from reconciler.backups.records import now, pid_alive
from reconciler.store.db import Database

RUNNING, SUCCEEDED, FAILED, TIMED_OUT = "running", "succeeded", "failed", "timeout"
LOG_CHARS = 4000
#: Runs kept per task; older ones are trimmed after each run and at prune time.
KEEP_RUNS = 100


@dataclass(frozen=True)
class TaskRun:
    id: int
    stack: str
    task: str
    trigger: str
    attempt: int
    container: str
    started_at: str
    finished_at: str | None
    status: str
    exit_code: int | None
    log_tail: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> TaskRun:
        code = row["exit_code"]
        return cls(
            id=int(row["id"]), stack=row["stack"], task=row["task"], trigger=row["trigger"],
            attempt=int(row["attempt"]), container=row["container"],
            started_at=row["started_at"], finished_at=row["finished_at"], status=row["status"],
            exit_code=None if code is None else int(code), log_tail=row["log_tail"],
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "stack": self.stack, "task": self.task, "trigger": self.trigger,
            "attempt": self.attempt, "container": self.container, "startedAt": self.started_at,
            "finishedAt": self.finished_at, "status": self.status, "exitCode": self.exit_code,
            "logTail": self.log_tail,
        }  # fmt: skip


class TaskRunLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def start(self, stack: str, task: str, trigger: str, attempt: int) -> int:
        return self.db.execute(
            "INSERT INTO task_runs (stack, task, trigger, attempt, started_at, status, pid)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (stack, task, trigger, attempt, now(), RUNNING, os.getpid()),
        )

    def set_container(self, run_id: int, container: str) -> None:
        self.db.execute("UPDATE task_runs SET container = ? WHERE id = ?", (container, run_id))

    def finish(self, run_id: int, status: str, exit_code: int | None, log_tail: str) -> None:
        self.db.execute(
            "UPDATE task_runs SET finished_at = ?, status = ?, exit_code = ?, log_tail = ?"
            " WHERE id = ?",
            (now(), status, exit_code, log_tail[-LOG_CHARS:], run_id),
        )

    def get(self, run_id: int) -> TaskRun | None:
        rows = self.db.query("SELECT * FROM task_runs WHERE id = ?", (run_id,))
        return TaskRun.from_row(rows[0]) if rows else None

    def find(self, stack: str, task: str | None = None, limit: int = 50) -> list[TaskRun]:
        """Newest first."""
        sql, params = "SELECT * FROM task_runs WHERE stack = ?", [stack]
        if task is not None:
            sql += " AND task = ?"
            params.append(task)
        rows = self.db.query(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
        return [TaskRun.from_row(row) for row in rows]

    def running(self, stack: str, task: str) -> list[TaskRun]:
        """Runs in progress in a live process (a crashed process's runs do not count)."""
        rows = self.db.query(
            "SELECT * FROM task_runs WHERE stack = ? AND task = ? AND status = ?",
            (stack, task, RUNNING),
        )
        live = []
        for row in rows:
            if pid_alive(int(row["pid"])):
                live.append(TaskRun.from_row(row))
            else:
                self.finish(int(row["id"]), FAILED, None, "interrupted: the reconciler stopped")
        return live

    def last_started(self, stack: str, task: str) -> str | None:
        rows = self.db.query(
            "SELECT max(started_at) AS at FROM task_runs WHERE stack = ? AND task = ?",
            (stack, task),
        )
        return str(rows[0]["at"]) if rows and rows[0]["at"] else None

    def trim(self, stack: str, task: str, keep: int = KEEP_RUNS) -> int:
        return self.db.execute(
            "DELETE FROM task_runs WHERE stack = ? AND task = ? AND status != ? AND id NOT IN"
            " (SELECT id FROM task_runs WHERE stack = ? AND task = ? ORDER BY id DESC LIMIT ?)",
            (stack, task, RUNNING, stack, task, keep),
        )
