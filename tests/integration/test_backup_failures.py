"""Failing backups are loud and harmless, and tasks run as recorded one-off containers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .support import api, containers
from .test_backup_roundtrip import HELPER, IMAGES, PSQL, Env, deployed, postgres_marks, sh

pytestmark = postgres_marks()

HOLD = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]


def stack_doc(stack: str) -> dict[str, Any]:
    return {
        "version": 1,
        "stack": stack,
        "settings": {"images": IMAGES, "helperImage": HELPER},
        "addons": {"db": {"type": "postgresql", "version": "15", "tier": "starter"}},
        "apps": {
            "web": {
                "image": HELPER,
                "command": HOLD,
                "env": {"GREETING": "hello"},
                "addons": ["db"],
                "volumes": {"uploads": "/srv/uploads"},
            },
            # An app that exists only to run tasks: it never runs on its own.
            "jobs": {"image": HELPER, "replicas": 0, "env": {"MODE": "batch"}, "addons": ["db"]},
        },
        "tasks": {
            "hello": {"app": "jobs", "command": ["sh", "-c", "echo $MODE via $DB_HOST:$DB_PORT"]},
            "flaky": {"app": "web", "command": ["sh", "-c", "echo try; exit 3"], "retries": 1},
            "slow": {"app": "web", "command": ["sleep", "30"], "timeout": "1s"},
        },
    }


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    repo, state = tmp_path_factory.mktemp("repo"), tmp_path_factory.mktemp("state")
    with deployed(stack_doc, repo, state) as environment:
        yield environment


def backup_files(env: Env) -> list[Path]:
    root = env.state / "backups" / env.stack
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_a_failing_dump_and_a_stopped_addon_leave_failed_records(env: Env) -> None:
    good = env.backup("db")
    assert good["status"] == "completed"
    # pg_dump connects to $POSTGRES_DB: renamed away, the dump command itself fails.
    sh(f"{env.stack}-db", f"{PSQL} -d postgres -c 'ALTER DATABASE app RENAME TO gone'")
    failed = env.run("backup", "db")
    assert failed.returncode == 1 and "the dump command exited with 1" in failed.stderr
    assert 'database "app" does not exist' in failed.stderr
    record = env.backups("db")[0]
    assert record["status"] == "failed" and "does not exist" in record["error"]
    assert backup_files(env) == [Path(good["path"])]  # no partial file, the good one intact

    api().stop(f"{env.stack}-db", timeout=10)
    stopped = env.run("backup", "db")
    assert stopped.returncode == 1 and "is not running (exited)" in stopped.stderr
    assert env.backups("db")[0]["status"] == "failed"
    assert backup_files(env) == [Path(good["path"])]
    listing = env.ok("backups")
    assert "failed" in listing and "is not running" in listing


def test_an_unwritable_destination_is_a_failed_record(env: Env) -> None:
    # Root ignores permission bits, so a file stands where the directory must go.
    blocked = env.state / "backups" / env.stack / "web-uploads"
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("not a directory")
    result = env.run("backup", "web")  # an app is neither a backup nor an add-on
    assert result.returncode == 1 and "no backup or add-on named 'web'" in result.stderr
    doc = stack_doc(env.stack)
    doc["backups"] = {"files": {"volume": {"app": "web", "name": "uploads"}}}
    (env.repo / "stack.yaml").write_text(json.dumps(doc))
    result = env.run("backup", "files")
    assert result.returncode == 1 and "cannot write to" in result.stderr
    assert env.backups("web-uploads")[0]["status"] == "failed"
    assert not [c for c in containers(env.stack) if "backup" in c["Name"]]  # helper removed


def test_tasks_run_in_one_off_containers_and_are_recorded(env: Env) -> None:
    hello = env.run("tasks", "run", "hello")
    assert hello.returncode == 0, hello.stderr
    assert "batch via db:5432" in hello.stdout

    flaky = env.run("tasks", "run", "flaky")
    assert flaky.returncode == 1 and "failed (exit code 3)" in flaky.stdout
    runs = json.loads(env.ok("tasks", "runs", "flaky", "--json"))
    assert [(r["attempt"], r["status"], r["exitCode"]) for r in runs] == [
        (2, "failed", 3), (1, "failed", 3),
    ]  # fmt: skip
    assert runs[0]["logTail"] == "try"

    slow = env.run("tasks", "run", "slow")
    assert slow.returncode == 1 and "timeout" in slow.stdout
    # Every run's container is gone; the stack's own containers are untouched.
    names = [c["Name"] for c in containers(env.stack)]
    assert not [n for n in names if "-task-" in n], names
