"""Audit events: every trigger and every authentication failure (who, what, when, from where)."""

from __future__ import annotations

from typing import Any

from reconciler.store.db import Database
from reconciler.store.deployments import now


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, action: str, detail: str, source: str, actor: str = "") -> None:
        self.db.execute(
            "INSERT INTO audit_events (at, action, actor, source, detail) VALUES (?, ?, ?, ?, ?)",
            (now(), action, actor, source, detail),
        )

    def list(self, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT * FROM audit_events ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset)
        )
        return [
            {
                "id": row["id"],
                "at": row["at"],
                "action": row["action"],
                "actor": row["actor"],
                "source": row["source"],
                "detail": row["detail"],
            }
            for row in rows
        ]

    def count(self) -> int:
        return int(self.db.query("SELECT COUNT(*) AS n FROM audit_events")[0]["n"])
