"""Field-level differences between two normalized spec documents."""

from __future__ import annotations

import json
from typing import Any

from reconciler.plan.model import FieldChange


def field_changes(
    before: dict[str, Any], after: dict[str, Any], prefix: str = ""
) -> list[FieldChange]:
    """Changed leaves as dotted paths; lists compare whole, since their order has meaning."""
    changes: list[FieldChange] = []
    for key in sorted(set(before) | set(after)):
        path = f"{prefix}{key}"
        old, new = before.get(key), after.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            changes += field_changes(old, new, f"{path}.")
        elif old != new:
            changes.append(FieldChange(path, old, new))
    return changes


def parse_spec_label(raw: str) -> dict[str, Any]:
    """The spec label of a live container; an unreadable one (edited by hand) diffs as empty."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}
