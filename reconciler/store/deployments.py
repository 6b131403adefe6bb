"""Deployment records: every reconcile, with its revision, trigger, status, actions and errors."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from reconciler.store.db import Database

STATUSES = ("running", "succeeded", "failed", "noop", "refused")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Deployment:
    id: int
    stack: str
    revision: str
    subject: str
    author: str
    trigger: str
    started_at: str
    finished_at: str | None
    status: str
    actions: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "stack": self.stack,
            "revision": self.revision,
            "subject": self.subject,
            "author": self.author,
            "trigger": self.trigger,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "status": self.status,
            "actions": self.actions,
            "errors": self.errors,
        }


class DeploymentLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def start(self, stack: str, revision: str, subject: str, author: str, trigger: str) -> int:
        return self.db.execute(
            "INSERT INTO deployments (stack, revision, subject, author, trigger, started_at,"
            " status) VALUES (?, ?, ?, ?, ?, ?, 'running')",
            (stack, revision, subject, author, trigger, now()),
        )

    def finish(
        self,
        deployment_id: int,
        status: str,
        actions: list[dict[str, Any]],
        errors: list[str],
        *,
        stack: str | None = None,
    ) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown deployment status {status!r}")
        self.db.execute(
            "UPDATE deployments SET status = ?, finished_at = ?, actions = ?, errors = ?, "
            "stack = COALESCE(?, stack) WHERE id = ?",
            (status, now(), json.dumps(actions), json.dumps(errors), stack, deployment_id),
        )

    def discard(self, deployment_id: int) -> None:
        self.db.execute("DELETE FROM deployments WHERE id = ?", (deployment_id,))

    def get(self, deployment_id: int) -> Deployment | None:
        rows = self.db.query("SELECT * FROM deployments WHERE id = ?", (deployment_id,))
        return _from_row(rows[0]) if rows else None

    def list(self, limit: int = 20, offset: int = 0, status: str | None = None) -> list[Deployment]:
        where, params = ("WHERE status = ?", [status]) if status else ("", [])
        rows = self.db.query(
            f"SELECT * FROM deployments {where} ORDER BY id DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [_from_row(row) for row in rows]

    def count(self, status: str | None = None) -> int:
        where, params = ("WHERE status = ?", [status]) if status else ("", [])
        return int(self.db.query(f"SELECT COUNT(*) AS n FROM deployments {where}", params)[0]["n"])

    def abandon_running(self) -> int:
        """Mark deployments a crash left 'running' as failed; called once at daemon start."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE deployments SET status = 'failed', finished_at = ?, "
                "errors = '[\"interrupted: the reconciler stopped during this deployment\"]' "
                "WHERE status = 'running'",
                (now(),),
            )
            return cursor.rowcount

    def prune(self, keep: int = 500) -> int:
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM deployments WHERE id NOT IN "
                "(SELECT id FROM deployments ORDER BY id DESC LIMIT ?)",
                (keep,),
            )
            return cursor.rowcount


def _from_row(row: Any) -> Deployment:
    return Deployment(
        id=int(row["id"]),
        stack=str(row["stack"]),
        revision=str(row["revision"]),
        subject=str(row["subject"]),
        author=str(row["author"]),
        trigger=str(row["trigger"]),
        started_at=str(row["started_at"]),
        finished_at=row["finished_at"],
        status=str(row["status"]),
        actions=json.loads(row["actions"]),
        errors=json.loads(row["errors"]),
    )
