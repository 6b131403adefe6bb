"""Plans against recorded live state: tests/golden/plan/<case>/{stack.yaml,observed.json,plan.json}.

observed.json holds what Docker's list calls answer (written by generate_observed.py in the same
directory, from the real label code); plan.json is the expected `plan_to_dict` of the plan.
UPDATE_GOLDEN=1 rewrites plan.json; review every diff before committing it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.desired.build import build_desired
from reconciler.manifests.loader import load_stack
from reconciler.observed.normalize import (
    container_from_summary,
    image_references,
    network_from_summary,
    volume_from_summary,
)
from reconciler.plan.planner import make_plan
from reconciler.plan.render import plan_to_dict, plan_to_text
from reconciler.state import labels
from reconciler.state.model import Observed

from .golden import case_dirs, check_golden

CASES = case_dirs("plan")
REVISION = "abc123"

#: What each case must plan, independent of the golden file: (action, kind, name) in order.
#: A regenerated plan.json that contradicts this fails even under UPDATE_GOLDEN=1.
SHAPES: dict[str, list[tuple[str, str, str]]] = {
    "empty-host": [
        ("create", "network", "shop-net"),
        ("create", "volume", "shop-api-uploads"),
        ("create", "volume", "shop-worker-cache"),
        ("create", "app", "cron"),
        ("create", "app", "worker"),
        ("create", "app", "api"),
        ("create", "app", "web"),
    ],
    "no-op": [],
    "env-change": [("update", "app", "web")],
    "image-change-recreate": [("recreate", "app", "api")],
    "scale-up": [("scale", "app", "web")],
    "scale-down": [("scale", "app", "web")],
    "undeclared-app": [("delete", "app", "legacy")],
    "undeclared-app-no-prune": [],
    "stopped-container": [("update", "app", "web")],
    "restarting-container": [],
    "leftover-temp": [("update", "app", "web")],
    "image-moved": [("update", "app", "web")],
    "foreign-containers": [],
    "missing-network": [("create", "network", "shop-net")],
}


def observed_from_json(doc: dict[str, Any], stack: str) -> Observed:
    """What `observe` builds from the engine's answers, with the daemon's label filter applied."""
    ours = [
        summary
        for summary in doc["containers"]
        if (summary.get("Labels") or {}).get(labels.STACK) == stack
    ]
    return Observed(
        containers=tuple(container_from_summary(summary) for summary in ours),
        networks=tuple(network_from_summary(summary) for summary in doc["networks"]),
        volumes=tuple(volume_from_summary(summary) for summary in doc["volumes"]),
        images=tuple(sorted(image_references(doc["images"]).items())),
    )


def plan_for(case: Path) -> dict[str, Any]:
    desired = build_desired(load_stack(case).stack, revision=REVISION)
    observed_doc = json.loads((case / "observed.json").read_text(encoding="utf-8"))
    plan = make_plan(desired, observed_from_json(observed_doc, desired.stack))
    plan_to_text(plan)  # renders without error for every case
    return plan_to_dict(plan)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_golden_plan(case: Path) -> None:
    plan = plan_for(case)
    shape = [(a["action"], a["kind"], a["name"]) for a in plan["actions"]]
    assert shape == SHAPES[case.name]
    text = json.dumps(plan, indent=2, ensure_ascii=False) + "\n"
    check_golden(case / "plan.json", text)


def test_every_case_has_a_shape() -> None:
    assert {case.name for case in CASES} == set(SHAPES)


def actions(case: str) -> list[dict[str, Any]]:
    return list(plan_for(next(c for c in CASES if c.name == case))["actions"])


def test_env_change_names_only_the_changed_field() -> None:
    [action] = actions("env-change")
    assert action["changes"] == [{"field": "env.LOG_LEVEL", "from": "info", "to": "debug"}]
    assert action["reason"] == "spec changed (env)"


def test_image_change_with_recreate_strategy() -> None:
    [action] = actions("image-change-recreate")
    assert action["changes"] == [
        {"field": "image", "from": "ghcr.io/acme/api:2.0.1", "to": "ghcr.io/acme/api:2.1.0"}
    ]


@pytest.mark.parametrize(("case", "before", "after"), [("scale-up", 1, 3), ("scale-down", 3, 1)])
def test_scaling_reports_live_and_wanted_counts(case: str, before: int, after: int) -> None:
    [action] = actions(case)
    assert action["reason"] == f"replicas {before} → {after}"
    assert action["changes"] == [{"field": "replicas", "from": before, "to": after}]


def test_stopped_container_is_replaced_with_its_state_named() -> None:
    [action] = actions("stopped-container")
    assert action["reason"] == "not running (shop-web-2 is exited)"


def test_leftover_temp_container_is_named() -> None:
    [action] = actions("leftover-temp")
    assert action["reason"] == "interrupted replacement left behind: shop-web-1--next"


def test_moved_image_names_old_and_new_id() -> None:
    [action] = actions("image-moved")
    [change] = action["changes"]
    assert change["field"] == "imageId"
    assert change["from"] != change["to"]
    assert action["reason"] == f"image ghcr.io/acme/web:1.4.2 now points to {change['to']}"


def test_observed_fixtures_hold_only_realistic_payloads() -> None:
    # Every container payload has the fields a GET /containers/json entry always has.
    for case in CASES:
        doc = json.loads((case / "observed.json").read_text(encoding="utf-8"))
        assert set(doc) == {"containers", "networks", "volumes", "images"}
        for summary in doc["containers"]:
            missing = {"Id", "Names", "Image", "ImageID", "State", "Status", "Labels"} - set(
                summary
            )
            assert not missing, f"{case.name}: {summary['Names']} lacks {missing}"
