"""The JSON Schema in schemas/ is generated from the models and must be kept up to date."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from reconciler.manifests.loader import load_stack
from reconciler.manifests.schema import SCHEMA_FILES, schema_documents

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas"
STALE = "is stale: run `reconciler schema` from the repository root and commit schemas/"


def stack_files() -> list[Path]:
    return [REPO / "stack.yaml", *sorted((REPO / "examples").glob("**/stack.yaml"))]


STACKS = stack_files()


@pytest.mark.parametrize("filename", sorted(SCHEMA_FILES))
def test_committed_schema_is_current(filename: str) -> None:
    committed = SCHEMAS / filename
    if not committed.exists():
        pytest.fail(f"schemas/{filename} is missing: {STALE}", pytrace=False)
    current = schema_documents()[filename]
    before = committed.read_text(encoding="utf-8")
    if before != current:
        diff = difflib.unified_diff(
            before.splitlines(), current.splitlines(), "committed", "models", lineterm="", n=1
        )
        excerpt = "\n".join(list(diff)[:30])
        pytest.fail(f"schemas/{filename} {STALE}\n{excerpt}", pytrace=False)


def test_no_stray_schema_files() -> None:
    assert sorted(p.name for p in SCHEMAS.glob("*.json")) == sorted(SCHEMA_FILES)


def test_schema_documents_are_valid_json_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    for filename, text in schema_documents().items():
        schema = json.loads(text)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"].endswith("/" + filename)
        jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("path", STACKS, ids=[str(p.relative_to(REPO)) for p in STACKS])
def test_bundled_stacks_validate(path: Path) -> None:
    loaded = load_stack(path)
    assert loaded.stack.apps or loaded.stack.addons


def plain_yaml(path: Path) -> Any:
    return json.loads(json.dumps(YAML(typ="safe").load(path.read_text(encoding="utf-8"))))


@pytest.mark.parametrize("path", STACKS, ids=[str(p.relative_to(REPO)) for p in STACKS])
def test_bundled_stacks_match_the_json_schema(path: Path) -> None:
    """What editors check as the user types: the root file and each included file."""
    jsonschema = pytest.importorskip("jsonschema")
    documents = schema_documents()
    stack_schema = json.loads(documents["stack.schema.json"])
    include_schema = json.loads(documents["include.schema.json"])
    jsonschema.validate(plain_yaml(path), stack_schema)
    loaded = load_stack(path)
    for included in loaded.files[1:]:
        jsonschema.validate(plain_yaml(path.parent / included), include_schema)


def test_json_schema_rejects_what_the_loader_rejects() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(schema_documents()["stack.schema.json"])
    bad = [
        {"version": 1, "stack": "shop", "apps": {"web": {"image": "a:1", "replica": 2}}},
        {"version": 2, "stack": "shop"},
        {"version": 1, "stack": "My Shop"},
        {"version": 1, "stack": "shop", "apps": {"Web": {"image": "a:1"}}},
        {"version": 1, "stack": "shop", "apps": {"web": {}}},
        {"version": 1, "stack": "shop", "apps": {"web": {"image": "a", "resources": {"cpu": "x"}}}},
    ]
    for document in bad:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(document, schema)
