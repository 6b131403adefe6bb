"""The backups part of `reconciler status`: each declared backup and whether it is fresh.

Read from the state directory's database, the same one the daemon and `reconciler backup`
write; nothing is opened (or created) for a stack that declares no backup.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.desired.load import load_manifests
from reconciler.scheduler.backup_health import backup_statuses
from reconciler.scheduler.freshness import DEGRADED, short_time
from reconciler.store.db import Database


def backup_rows(path: Path, state_dir: Path, now: datetime | None = None) -> list[dict[str, Any]]:
    """Status rows of kind `backup`, after the workloads' rows in `status --json`."""
    stack = load_manifests(path).stack
    if not stack.backups:
        return []
    db = Database(state_dir / "state.db")
    try:
        statuses = backup_statuses(db, stack, now or datetime.now(UTC))
    finally:
        db.close()
    # `kind` says what the row is, as for workloads; the source's own kind moves aside.
    return [
        {**s.to_dict(), "kind": "backup", "name": s.backup, "sourceKind": s.kind} for s in statuses
    ]


def backup_text(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'BACKUP':24} {'SOURCE':20} {'SCHEDULE':14} {'LAST SUCCESS':18} FRESHNESS"]
    for row in rows:
        last = row["lastSuccessAt"]
        when = short_time(datetime.fromisoformat(last)) if last else "never"
        schedule = row["schedule"] or "-"
        lines.append(
            f"{row['name']:24} {row['source']:20} {schedule:14} {when:18} {row['freshness']}"
        )
        if row["freshness"] == DEGRADED:
            lines.append(f"  {row['reason']}")
    return "\n".join(lines)
