"""Render a Plan for people (text) and for tools (JSON); neither ever shows a secret value."""

from __future__ import annotations

import json
from typing import Any

from reconciler.plan.model import ActionType, Plan

_SYMBOLS = {
    ActionType.CREATE: "+",
    ActionType.UPDATE: "~",
    ActionType.RECREATE: "-/+",
    ActionType.SCALE: "±",
    ActionType.DELETE: "-",
    ActionType.UPGRADE: "^",
}


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    return {
        "stack": plan.stack,
        "revision": plan.revision,
        "actions": [
            {
                "action": action.action.value,
                "kind": action.kind.value,
                "name": action.name,
                "reason": action.reason,
                "changes": [
                    {"field": c.field, "from": c.before, "to": c.after} for c in action.changes
                ],
            }
            for action in plan.actions
        ],
    }


def plan_to_json(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False)


def plan_to_text(plan: Plan) -> str:
    if plan.empty:
        return f"stack {plan.stack}: no changes; Docker matches the manifests."
    summary = ", ".join(f"{n} to {kind}" for kind, n in plan.counts().items() if n)
    lines = [f"stack {plan.stack} (revision {plan.revision}): {summary}"]
    for action in plan.actions:
        symbol = _SYMBOLS[action.action]
        lines.append(
            f"{symbol} {action.action.value} {action.kind.value} {action.name}: {action.reason}"
        )
        for change in action.changes:
            lines.append(f"    {change.field}: {_short(change.before)} → {_short(change.after)}")
    return "\n".join(lines)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 120 else text[:117] + "..."
