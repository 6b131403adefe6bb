"""Declared add-on disk budgets, remembered so a later manifest cannot shrink them.

Docker volumes have no size to shrink: lowering `disk` would only hide how full a volume is.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from reconciler.state.errors import PlanError
from reconciler.state.model import DesiredStack, Kind


def _gib(size: int) -> str:
    return f"{size / 1024**3:g}Gi"


class DiskBudgets:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "disks.json"

    def _load(self) -> dict[str, int]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return {str(k): int(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def check(self, desired: DesiredStack) -> None:
        known = self._load()
        problems = []
        for workload in desired.workloads:
            if workload.kind is not Kind.ADDON or workload.disk_bytes is None:
                continue
            before = known.get(f"{desired.stack}/{workload.name}")
            if before is not None and workload.disk_bytes < before:
                problems.append(
                    f"add-on {workload.name}: disk can only grow "
                    f"({_gib(before)} declared before, {_gib(workload.disk_bytes)} now)"
                )
        if problems:
            raise PlanError("; ".join(problems))

    def record(self, desired: DesiredStack) -> None:
        before = self._load()
        known = dict(before)
        for workload in desired.workloads:
            if workload.kind is Kind.ADDON and workload.disk_bytes is not None:
                key = f"{desired.stack}/{workload.name}"
                known[key] = max(known.get(key, 0), workload.disk_bytes)
        if known == before:
            return
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp = self.path.with_suffix(".tmp")
        temp.write_text(json.dumps(known, sort_keys=True), encoding="utf-8")
        os.replace(temp, self.path)
