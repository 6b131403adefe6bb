"""JSON Schema export of the manifest models, so editors validate stack.yaml as it is typed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from reconciler.manifests.models import Sections, Stack

SCHEMA_FILES: dict[str, type[BaseModel]] = {
    "stack.schema.json": Stack,
    "include.schema.json": Sections,
}


def schema_documents() -> dict[str, str]:
    documents: dict[str, str] = {}
    for filename, model in SCHEMA_FILES.items():
        schema: dict[str, Any] = model.model_json_schema(by_alias=True)
        _close_pattern_maps(schema)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://reconciler.dev/schemas/{filename}"
        documents[filename] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return documents


def _close_pattern_maps(node: Any) -> None:
    """Maps with constrained keys (app names, env keys) come out as patternProperties alone,
    which lets any other key through; forbid those, as the loader does."""
    if isinstance(node, dict):
        if "patternProperties" in node and "properties" not in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _close_pattern_maps(value)
    elif isinstance(node, list):
        for item in node:
            _close_pattern_maps(item)


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, text in schema_documents().items():
        target = directory / filename
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written
