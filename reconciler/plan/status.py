"""Status of each workload: declared vs live replicas, health, in sync or not (pure)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from reconciler.state.model import DesiredStack, LiveContainer, Observed


def status_rows(desired: DesiredStack, observed: Observed) -> list[dict[str, Any]]:
    live: dict[tuple[str, str], list[LiveContainer]] = defaultdict(list)
    for container in observed.containers:
        live[(container.kind, container.owner)].append(container)
    rows = []
    for workload in desired.workloads:
        containers = live.pop((workload.kind.value, workload.name), [])
        wanted = {spec.name for spec in workload.replicas}
        ready = [
            c for c in containers if c.name in wanted and c.running and c.health != "unhealthy"
        ]
        current = [c for c in ready if c.spec_hash == workload.spec_hash]
        synced = len(current) == len(wanted) == len(containers)
        rows.append(
            _row(workload.kind.value, workload.name, len(wanted), containers, synced, ready)
        )
    for (kind, name), containers in sorted(live.items()):
        rows.append({**_row(kind, name, 0, containers, False, []), "sync": "orphan"})
    return rows


def _row(
    kind: str,
    name: str,
    replicas: int,
    containers: list[LiveContainer],
    synced: bool,
    ready: list[LiveContainer],
) -> dict[str, Any]:
    revisions = sorted({c.revision for c in containers})
    return {
        "kind": kind,
        "name": name,
        "replicas": replicas,
        "readyReplicas": len(ready),
        "sync": "synced" if synced else "outOfSync",
        "revision": revisions[0] if len(revisions) == 1 else revisions,
        "containers": [
            {"name": c.name, "state": c.state, "status": c.status, "health": c.health}
            for c in sorted(containers, key=lambda c: c.name)
        ],
    }


def status_text(stack: str, rows: list[dict[str, Any]]) -> str:
    lines = [f"stack {stack}"]
    header = f"{'KIND':6} {'NAME':24} {'READY':7} {'SYNC':10} REVISION"
    lines.append(header)
    for row in rows:
        ready = f"{row['readyReplicas']}/{row['replicas']}"
        revision = (
            row["revision"] if isinstance(row["revision"], str) else ",".join(row["revision"])
        )
        lines.append(f"{row['kind']:6} {row['name']:24} {ready:7} {row['sync']:10} {revision[:12]}")
    return "\n".join(lines)
