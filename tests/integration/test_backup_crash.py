"""Backups killed with SIGKILL at each step: the next run settles everything, nothing is lost.

Real `reconciler backup` processes against a real PostgreSQL add-on and a real volume; the
process kills itself at a named crash point (RECONCILER_CRASH_AT), exactly as `kill -9` would
leave it. After one further command: every record matches a whole file on disk, no partial
files, no helper containers or scratch volumes, and the earlier backups are intact.
"""

from __future__ import annotations

import hashlib
import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.backups.helpers import leftover_pattern
from reconciler.state.faults import ENV as CRASH_AT

from .support import (
    api,
    cli,
    containers,
    describe,
)
from .test_backup_roundtrip import HELPER, IMAGES, PSQL, Env, deployed, postgres_marks, sh

pytestmark = postgres_marks()

HOLD = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]


def stack_doc(stack: str) -> dict[str, Any]:
    return {
        "version": 1,
        "stack": stack,
        "settings": {"images": IMAGES, "helperImage": HELPER},
        "addons": {"db": {"type": "postgresql", "version": "15", "tier": "starter"}},
        "apps": {"web": {"image": HELPER, "command": HOLD, "volumes": {"uploads": "/srv/up"}}},
        "backups": {
            "db-daily": {"addon": "db", "retention": 2},
            "uploads": {"volume": {"app": "web", "name": "uploads"}, "verify": True},
        },
    }


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    repo, state = tmp_path_factory.mktemp("repo"), tmp_path_factory.mktemp("state")
    with deployed(stack_doc, repo, state) as environment:
        # About 3 MB of dump, so the stream arrives in many chunks.
        rows = "SELECT g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 40000) g"
        stack = environment.stack
        sh(f"{stack}-db", f'{PSQL} -c "CREATE TABLE items AS {rows}"')
        sh(f"{stack}-web-1", "head -c 3000000 /dev/urandom > /srv/up/blob && echo x > /srv/up/a")
        yield environment


def killed_at(env: Env, point: str, *args: str) -> None:
    """Run `reconciler ARGS` with a crash point set; it must die by SIGKILL there."""
    result = cli(*args, env.repo, "--state-dir", env.state, env={CRASH_AT: point}, timeout=300)
    assert result.returncode == -signal.SIGKILL, describe(result)


def records(env: Env) -> list[dict[str, Any]]:
    """Every record (one further command: `backups` settles what a killed run left)."""
    data: list[dict[str, Any]] = json.loads(env.ok("backups", "--json"))
    return data


def assert_settled(env: Env) -> list[dict[str, Any]]:
    """Files on disk are exactly the completed records' files, each whole; no leftovers."""
    listed = records(env)
    completed = [r for r in listed if r["status"] == "completed"]
    assert {r["status"] for r in listed} <= {"completed", "failed"}, listed
    on_disk = sorted(p for p in (env.state / "backups" / env.stack).rglob("*") if p.is_file())
    assert on_disk == sorted(Path(r["path"]) for r in completed)
    for record in completed:
        assert hashlib.sha256(Path(record["path"]).read_bytes()).hexdigest() == record["sha256"]
    names = [c["Name"] for c in containers(env.stack)]
    volumes = api().volumes(filters={"label": [f"io.reconciler.stack={env.stack}"]})["Volumes"]
    names += [v["Name"] for v in volumes or []]
    for source in ("db", "web-uploads"):
        assert not [n for n in names if leftover_pattern(env.stack, source).fullmatch(n)], names
    assert f"{env.stack}-web-uploads" in names  # the backed-up volume itself is never touched
    return completed


def test_killed_mid_dump_write_leaves_a_failed_record_and_no_partial_file(env: Env) -> None:
    killed_at(env, "backup.write:3", "backup", "db-daily")
    partials = list((env.state / "backups" / env.stack / "db").glob("*.partial"))
    assert len(partials) == 1  # died mid-stream (its buffer may not have reached the disk)
    interrupted = records(env)[0]
    assert interrupted["status"] == "failed" and "interrupted" in interrupted["error"]
    good = env.backup("db-daily")
    assert good["status"] == "completed"
    assert [r["id"] for r in assert_settled(env)] == [good["id"]]


def test_killed_mid_volume_backup_leaves_no_helper_container_behind(env: Env) -> None:
    killed_at(env, "backup.write:2", "backup", "uploads")
    # The tar helper outlived the process that started it; the next run of the source sweeps it.
    assert [c["Name"] for c in containers(env.stack) if "-uploads-backup-" in c["Name"]]
    good = env.backup("uploads")
    assert good["status"] == "completed" and good["verified"] is True
    assert good["id"] in {r["id"] for r in assert_settled(env)}


def test_killed_before_the_record_is_committed_the_whole_file_is_recorded(env: Env) -> None:
    killed_at(env, "backup.before-record", "backup", "db-daily")
    adopted = records(env)[0]
    assert adopted["status"] == "completed", adopted
    assert Path(adopted["path"]).stat().st_size == adopted["size"] > 0
    assert adopted["id"] in {r["id"] for r in assert_settled(env)}
    # It restores: into the live add-on, over a dropped table.
    sh(f"{env.stack}-db", f"{PSQL} -c 'DROP TABLE items'")
    env.ok("restore", str(adopted["id"]), "--yes")
    assert sh(f"{env.stack}-db", f"{PSQL} -c 'SELECT count(*) FROM items'") == "40000"


@pytest.mark.parametrize("point", ["retention.marked", "retention.unlinked"])
def test_killed_mid_retention_delete_the_next_run_finishes_it(env: Env, point: str) -> None:
    env.backup("db-daily")
    env.backup("db-daily")  # retention 2: now exactly two
    listed = records(env)
    before = [r["id"] for r in listed if r["status"] == "completed" and r["job"] == "db-daily"]
    assert len(before) == 2
    killed_at(env, point, "backup", "db-daily")  # the third run's retention deletes the oldest
    kept = [r for r in assert_settled(env) if r["job"] == "db-daily"]
    assert len(kept) == 2 and before[1] not in {r["id"] for r in kept}
    assert before[0] in {r["id"] for r in kept}  # the newer one of the earlier two is intact


@pytest.mark.parametrize("point", ["restore.started", "restore.before-record"])
def test_a_restore_killed_mid_way_is_listed_as_interrupted(env: Env, point: str) -> None:
    """Killed with its record written (and, at the second point, the data already restored):
    the next command marks the record failed, never leaves it `running`."""
    good = env.backup("db-daily")
    result = cli(
        "restore", str(good["id"]), env.repo, "--yes", "--state-dir", env.state,
        env={CRASH_AT: point}, timeout=300,
    )  # fmt: skip
    assert result.returncode == -signal.SIGKILL, describe(result)
    listed: list[dict[str, Any]] = json.loads(env.ok("restores", "--json"))
    killed = listed[0]
    assert killed["backupId"] == good["id"] and killed["status"] == "failed", killed
    assert killed["error"].startswith("interrupted:") and killed["finishedAt"] is not None
    # Once settled it stays so, and the next restore of the same backup completes.
    env.ok("restore", str(good["id"]), "--yes")
    after: list[dict[str, Any]] = json.loads(env.ok("restores", "--json"))
    assert after[0]["status"] == "completed" and after[1] == killed
    assert sh(f"{env.stack}-db", f"{PSQL} -c 'SELECT count(*) FROM items'") == "40000"
