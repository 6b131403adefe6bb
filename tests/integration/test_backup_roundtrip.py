"""Backups that restore, against the real engine: write data, back up, destroy, restore, read.

One stack (PostgreSQL, MariaDB, Redis and an app with a volume) serves the whole module, so
the add-ons boot once. Data is written and read with `docker exec` inside the containers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .support import (
    api,
    cli,
    describe,
    engine_skip_reason,
    missing_image_reason,
    new_stack_name,
    purge_stack,
)

pytestmark = [pytest.mark.docker]
if reason := engine_skip_reason():
    pytestmark.append(pytest.mark.skip(reason=reason))

IMAGES = {
    "postgresql": "reconciler-fixture/postgres",
    "mariadb": "reconciler-fixture/mariadb",
    "redis": "reconciler-fixture/redis",
}
HELPER = "reconciler-fixture/busybox:1"
PSQL = 'PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -tA'
MARIADB = 'MYSQL_PWD="$MARIADB_ROOT_PASSWORD" mariadb -h 127.0.0.1 -u root -N "$MARIADB_DATABASE"'
REDIS = 'redis-cli --no-auth-warning -a "$REDIS_PASSWORD"'


ADDON_IMAGES = [f"reconciler-fixture/{tag}" for tag in ("postgres:15", "mariadb:10.11", "redis:7")]
if not reason and (missing := missing_image_reason(*ADDON_IMAGES)):
    pytestmark.append(pytest.mark.skip(reason=missing))


@dataclass(frozen=True)
class Env:
    stack: str
    repo: Path
    state: Path

    def run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        # PATH right after the positionals: argparse binds an optional positional early.
        split = next((i for i, a in enumerate(args) if str(a).startswith("--")), len(args))
        full = (*args[:split], self.repo, *args[split:], "--state-dir", self.state)
        return cli(*full, timeout=300)

    def ok(self, *args: str | Path) -> str:
        result = self.run(*args)
        assert result.returncode == 0, describe(result)
        return result.stdout

    def backups(self, source: str | None = None) -> list[dict[str, Any]]:
        extra = ("--addon", source) if source else ()
        data: list[dict[str, Any]] = json.loads(self.ok("backups", "--json", *extra))
        return data

    def backup(self, name: str) -> dict[str, Any]:
        self.ok("backup", name)
        return self.backups()[0]

    def restores(self) -> list[dict[str, Any]]:
        """The restore records, newest first (`reconciler restores --json`)."""
        data: list[dict[str, Any]] = json.loads(self.ok("restores", "--json"))
        return data


def sh(container: str, script: str) -> str:
    """Run a shell snippet in a container (its own env holds the credentials)."""
    created = api().exec_create(container, ["sh", "-c", script])
    output = str(api().exec_start(created["Id"]).decode())
    code = api().exec_inspect(created["Id"])["ExitCode"]
    assert code == 0, f"{script!r} in {container} exited {code}: {output}"
    return output.strip()


def stack_doc(stack: str) -> dict[str, Any]:
    hold = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    return {
        "version": 1,
        "stack": stack,
        "settings": {"images": IMAGES, "helperImage": HELPER},
        "addons": {
            "db": {"type": "postgresql", "version": "15", "tier": "starter"},
            "db2": {"type": "postgresql", "version": "15", "tier": "starter"},
            "maria": {"type": "mariadb", "version": "10.11", "tier": "starter"},
            "cache": {"type": "redis", "version": "7", "tier": "starter"},
        },
        "apps": {
            "web": {
                "image": HELPER,
                "command": hold,
                "addons": ["db", "cache"],
                "volumes": {"uploads": "/srv/uploads"},
            },
        },
        "backups": {
            "db-nightly": {"addon": "db", "schedule": "0 2 * * *", "retention": 2, "verify": True},
            "maria-nightly": {"addon": "maria", "verify": True},
            "cache-hourly": {"addon": "cache", "schedule": "@hourly", "verify": True},
            "uploads": {"volume": {"app": "web", "name": "uploads"}, "verify": True},
        },
    }


@contextlib.contextmanager
def deployed(doc: Callable[[str], dict[str, Any]], repo: Path, state: Path) -> Iterator[Env]:
    """A new stack from `doc(stack_name)`, applied; everything with its label removed after."""
    stack = new_stack_name()
    (repo / "stack.yaml").write_text(json.dumps(doc(stack), indent=2))
    environment = Env(stack, repo, state)
    try:
        environment.ok("apply")
        yield environment
    finally:
        purge_stack(stack)


def postgres_marks() -> list[pytest.MarkDecorator]:
    """For modules that need only the PostgreSQL image: the docker mark, and a skip that says
    why when the engine or the image is missing."""
    if reason := engine_skip_reason():
        return [pytest.mark.docker, pytest.mark.skip(reason=reason)]
    try:
        api().inspect_image("reconciler-fixture/postgres:15")
    except Exception:  # any failure to find it: skip and say how to build it
        why = "reconciler-fixture/postgres:15 missing; run scripts/addon-images.sh"
        return [pytest.mark.docker, pytest.mark.skip(reason=why)]
    return [pytest.mark.docker]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with deployed(
        stack_doc, tmp_path_factory.mktemp("repo"), tmp_path_factory.mktemp("state")
    ) as e:
        yield e


def test_postgresql_round_trip_verified_and_retained(env: Env) -> None:
    db = f"{env.stack}-db"
    sh(db, f"{PSQL} -c 'CREATE TABLE items (id int, name text)'")
    sh(db, f"{PSQL} -c \"INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g\"")
    record = env.backup("db")  # the add-on's name finds its declared backup, db-nightly
    assert record["status"] == "completed" and record["job"] == "db-nightly"
    assert record["verified"] is True and record["verifyDetail"] == "tables: 1"
    path = Path(record["path"])
    assert path.name.endswith(".pgdump") and not path.name.endswith(".gz")  # -Fc: compressed
    assert hashlib.sha256(path.read_bytes()).hexdigest() == record["sha256"]
    assert record["size"] == path.stat().st_size
    assert not list(path.parent.glob("*.partial"))

    sh(db, f"{PSQL} -c 'DROP TABLE items'")
    assert env.run("restore", str(record["id"])).returncode == 1  # no --yes, no terminal
    assert env.restores() == [], "a restore that was not confirmed never began"
    said = env.ok("restore", str(record["id"]), "--yes")
    assert sh(db, f"{PSQL} -c 'SELECT count(*), sum(id) FROM items'") == "500|125250"
    # The connected app was stopped for the restore and is running again.
    assert api().inspect_container(f"{env.stack}-web-1")["State"]["Running"]
    # Recorded: which backup, into what, by whom, how it ended and how long it took.
    [restored] = env.restores()
    assert f"(restore {restored['id']})" in said
    assert restored["backupId"] == record["id"] and restored["status"] == "completed"
    assert (restored["source"], restored["fromSource"], restored["kind"]) == ("db", "db", "addon")
    assert restored["trigger"] == "cli" and restored["error"] == "" and restored["peer"] == ""
    assert restored["stack"] == env.stack and restored["finishedAt"] >= restored["startedAt"]
    assert restored["seconds"] > 0

    # Retention 2: a third backup deletes the oldest file and record, never the newest.
    env.backup("db-nightly")
    env.backup("db-nightly")
    kept = env.backups("db")
    assert [r["id"] for r in kept] == sorted((r["id"] for r in kept), reverse=True)
    assert len(kept) == 2 and record["id"] not in {r["id"] for r in kept}
    assert not path.exists()


def test_restore_into_another_addon(env: Env) -> None:
    db = f"{env.stack}-db"
    sh(db, f"{PSQL} -c 'CREATE TABLE moved (v text)'")
    sh(db, f"{PSQL} -c \"INSERT INTO moved VALUES ('across')\"")
    record = env.backup("db")
    env.ok("restore", str(record["id"]), "--to", "db2", "--yes")
    assert sh(f"{env.stack}-db2", f"{PSQL} -c 'SELECT v FROM moved'") == "across"
    wrong = env.run("restore", str(record["id"]), "--to", "maria", "--yes")
    assert wrong.returncode == 1 and "postgresql dump" in wrong.stderr
    # The restore into db2 is recorded with both ends; the refused one (planning failed) is not.
    moved = env.restores()[0]
    assert (moved["backupId"], moved["source"], moved["fromSource"]) == (record["id"], "db2", "db")
    assert moved["status"] == "completed" and moved["trigger"] == "cli"
    listing = env.ok("restores")
    assert f"{moved['id']:>5}  {record['id']:>6}  db2" in listing and "completed" in listing


def test_mariadb_round_trip(env: Env) -> None:
    maria = f"{env.stack}-maria"
    sh(maria, f"{MARIADB} -e 'CREATE TABLE people (id INT PRIMARY KEY, name TEXT)'")
    sh(maria, f"{MARIADB} -e \"INSERT INTO people VALUES (1, 'ada'), (2, 'grace')\"")
    record = env.backup("maria-nightly")
    assert record["status"] == "completed" and record["path"].endswith(".sql.gz")
    assert record["verified"] is True and record["verifyDetail"] == "tables: 1"
    sh(maria, f"{MARIADB} -e 'DROP TABLE people'")
    env.ok("restore", str(record["id"]), "--yes")
    assert sh(maria, f"{MARIADB} -e 'SELECT name FROM people ORDER BY id'") == "ada\ngrace"


def test_redis_round_trip(env: Env) -> None:
    cache = f"{env.stack}-cache"
    sh(cache, f"{REDIS} set greeting hello && {REDIS} rpush queue a b c")
    record = env.backup("cache")
    assert record["status"] == "completed" and record["path"].endswith(".rdb.gz")
    assert record["verified"] is True and record["verifyDetail"] == "keys: 2"
    sh(cache, f"{REDIS} flushall")
    assert sh(cache, f"{REDIS} dbsize") == "0"
    env.ok("restore", str(record["id"]), "--yes")
    assert sh(cache, f"{REDIS} get greeting") == "hello"
    assert sh(cache, f"{REDIS} lrange queue 0 -1") == "a\nb\nc"


def test_volume_round_trip(env: Env) -> None:
    web = f"{env.stack}-web-1"
    sh(web, "mkdir -p /srv/uploads/docs && echo report > /srv/uploads/docs/a.txt")
    sh(web, "echo secret > /srv/uploads/.hidden && ln -s docs/a.txt /srv/uploads/link")
    record = env.backup("uploads")
    assert record["kind"] == "volume" and record["path"].endswith(".tar.gz")
    assert record["verified"] is True
    sh(web, "rm -rf /srv/uploads/* /srv/uploads/.hidden && echo stray > /srv/uploads/new.txt")
    env.ok("restore", str(record["id"]), "--yes")
    web_after = f"{env.stack}-web-1"
    assert sh(web_after, "cat /srv/uploads/docs/a.txt /srv/uploads/.hidden") == "report\nsecret"
    assert sh(web_after, "readlink /srv/uploads/link") == "docs/a.txt"
    assert sh(web_after, "ls /srv/uploads") == "docs\nlink"  # what the backup held, only


def test_backup_output_has_no_password(env: Env) -> None:
    credentials = json.loads(env.ok("credentials", "db", "--json"))
    listing = env.run("backups", "--json")
    assert credentials["password"] not in listing.stdout + listing.stderr
