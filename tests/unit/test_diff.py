"""Field-level changes between spec documents, and reading the spec label back."""

from __future__ import annotations

import json
from typing import Any

from reconciler.plan.diff import field_changes, parse_spec_label
from reconciler.plan.model import FieldChange


def test_identical_documents_have_no_changes() -> None:
    doc = {"image": "a:1", "env": {"A": "1"}, "ports": ["p"], "cpu": None}
    assert field_changes(doc, json.loads(json.dumps(doc))) == []


def test_scalar_change() -> None:
    assert field_changes({"image": "a:1"}, {"image": "a:2"}) == [FieldChange("image", "a:1", "a:2")]


def test_nested_mappings_give_dotted_paths() -> None:
    before = {"env": {"A": "1", "B": "2"}, "healthcheck": {"retries": 3, "test": ["CMD", "x"]}}
    after = {"env": {"A": "1", "B": "3"}, "healthcheck": {"retries": 5, "test": ["CMD", "x"]}}
    assert field_changes(before, after) == [
        FieldChange("env.B", "2", "3"),
        FieldChange("healthcheck.retries", 3, 5),
    ]


def test_added_and_removed_keys() -> None:
    before = {"env": {"OLD": "x"}, "labels": {}}
    after = {"env": {"NEW": "y"}, "labels": {"team": "a"}}
    assert field_changes(before, after) == [
        FieldChange("env.NEW", None, "y"),
        FieldChange("env.OLD", "x", None),
        FieldChange("labels.team", None, "a"),
    ]


def test_lists_compare_whole_because_order_matters() -> None:
    before = {"command": ["sh", "-c", "a"]}
    after = {"command": ["sh", "-c", "b"]}
    assert field_changes(before, after) == [
        FieldChange("command", ["sh", "-c", "a"], ["sh", "-c", "b"])
    ]
    assert field_changes({"command": ["a", "b"]}, {"command": ["b", "a"]}) != []


def test_mapping_replaced_by_scalar_is_one_change() -> None:
    assert field_changes({"healthcheck": {"retries": 3}}, {"healthcheck": None}) == [
        FieldChange("healthcheck", {"retries": 3}, None)
    ]


def test_changes_are_sorted_by_path() -> None:
    before: dict[str, Any] = {"z": 1, "a": 1, "m": {"b": 1, "a": 1}}
    after: dict[str, Any] = {"z": 2, "a": 2, "m": {"b": 2, "a": 2}}
    assert [c.field for c in field_changes(before, after)] == ["a", "m.a", "m.b", "z"]


def test_empty_before_lists_every_field() -> None:
    after = {"image": "a:1", "env": {"A": "1"}}
    assert field_changes({}, after) == [
        FieldChange("env", None, {"A": "1"}),
        FieldChange("image", None, "a:1"),
    ]


def test_parse_spec_label() -> None:
    doc = {"image": "a:1", "env": {}}
    assert parse_spec_label(json.dumps(doc)) == doc


def test_unreadable_spec_label_reads_as_empty() -> None:
    assert parse_spec_label("") == {}
    assert parse_spec_label("{not json") == {}
    assert parse_spec_label("[1, 2]") == {}
    assert parse_spec_label('"text"') == {}
