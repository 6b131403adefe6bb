"""The `backups:` and `tasks:` sections and their settings, as the loader reports them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.manifests.cron import cron_fields
from reconciler.manifests.loader import load_stack
from reconciler.state.errors import ManifestErrors


def load(tmp_path: Path, **sections: Any) -> Any:
    doc = {
        "version": 1,
        "stack": "shop",
        "addons": {"db": {"type": "postgresql"}},
        "apps": {"web": {"image": "web:1", "volumes": {"uploads": "/u"}}},
        **sections,
    }
    (tmp_path / "stack.yaml").write_text(json.dumps(doc))
    return load_stack(tmp_path).stack


def errors(tmp_path: Path, **sections: Any) -> str:
    with pytest.raises(ManifestErrors) as raised:
        load(tmp_path, **sections)
    return raised.value.render()


def test_the_issue_example_loads(tmp_path: Path) -> None:
    stack = load(
        tmp_path,
        backups={
            "db-nightly": {"addon": "db", "schedule": "0 2 * * *", "retention": 14,
                           "enabled": True, "verify": True, "destination": "local"},
            "uploads": {"volume": {"app": "web", "name": "uploads"},
                        "retention": {"keepLast": 3, "keepDaily": 7, "keepWeekly": 4,
                                      "keepMonthly": 6}},
        },
        tasks={"nightly-report": {"app": "web", "command": ["python", "-m", "report"],
                                  "schedule": "15 1 * * *", "timeout": "10m", "retries": 1,
                                  "concurrency": "forbid"}},
        settings={"prune": {"schedule": "30 3 * * *"}, "timezone": "Europe/Berlin"},
    )  # fmt: skip
    assert stack.backups["db-nightly"].retention.keep_last == 14
    assert stack.backups["uploads"].retention.keep_monthly == 6
    assert stack.tasks["nightly-report"].retries == 1
    assert stack.settings.prune is True and stack.settings.prune_schedule == "30 3 * * *"
    assert stack.settings.helper_image == "busybox:1.36"


def test_tasks_merge_from_included_files(tmp_path: Path) -> None:
    (tmp_path / "tasks.yaml").write_text(
        json.dumps({"tasks": {"report": {"app": "web", "command": ["r"]}}})
    )
    stack = load(tmp_path, include=["tasks.yaml"])
    assert list(stack.tasks) == ["report"]


def test_prune_false_still_means_keep_undeclared_objects(tmp_path: Path) -> None:
    assert load(tmp_path, settings={"prune": False}).settings.prune is False
    stack = load(tmp_path, settings={"prune": {"schedule": "@daily", "objects": False}})
    assert stack.settings.prune is False and stack.settings.prune_schedule == "@daily"
    assert "unknown key(s) under prune: every" in errors(
        tmp_path, settings={"prune": {"every": "day"}}
    )


@pytest.mark.parametrize(
    ("backup", "message"),
    [
        ({}, "set exactly one of 'addon' or 'volume'"),
        ({"addon": "db", "volume": {"app": "web", "name": "uploads"}}, "exactly one"),
        ({"addon": "db", "retention": 0}, "keeps no backup"),
        ({"addon": "db", "retention": {"keepDaily": 0}}, "keeps no backup"),
        ({"addon": "db", "destination": "s3"}, "expected 'local'"),
        ({"addon": "db", "schedule": "61 * * * *"}, "minute '61' is not in 0-59"),
        ({"addon": "db", "schedule": "0 2 * *"}, "expected 5 fields"),
        ({"addon": "nope"}, "no add-on named 'nope' (add-ons: db)"),
        ({"volume": {"app": "api", "name": "x"}}, "no app named 'api' (apps: web)"),
        ({"volume": {"app": "web", "name": "x"}}, "app 'web' has no volume 'x' (uploads)"),
    ],
)
def test_backup_mistakes_are_located_and_specific(
    tmp_path: Path, backup: dict[str, Any], message: str
) -> None:
    text = errors(tmp_path, backups={"b": backup})
    assert text.startswith("stack.yaml:") and "backups.b" in text and message in text, text


def test_task_mistakes(tmp_path: Path) -> None:
    assert "no app named 'cron'" in errors(tmp_path, tasks={"t": {"app": "cron", "command": ["x"]}})
    assert "must have at least 1 item" in errors(
        tmp_path, tasks={"t": {"app": "web", "command": []}}
    )
    text = errors(tmp_path, tasks={"t": {"app": "web", "command": ["x"], "concurrency": "queue"}})
    assert "expected 'forbid' or 'allow'" in text
    assert "is not a time zone" in errors(tmp_path, settings={"timezone": "Mars/Base"})


@pytest.mark.parametrize(
    "expr", ["@daily", "*/5 * * * *", "0 0 1-7 * mon", "0 12 * jan,jul sun-sat", "0 0 * * 0-7"]
)
def test_valid_schedules(expr: str) -> None:
    assert len(cron_fields(expr)) == 5


@pytest.mark.parametrize(
    "expr", ["", "* * * * * *", "*/0 * * * *", "5-1 * * * *", "a * * * *", "0 0 32 * *", "@often"]
)
def test_invalid_schedules(expr: str) -> None:
    with pytest.raises(ValueError, match="is not a cron schedule"):
        cron_fields(expr)
