"""Major-version upgrades of a PostgreSQL add-on by dump and restore, against the real engine.

PostgreSQL 15 (bookworm) with data and a connected app; version 17 (trixie) is refused without
`upgrade: dumpRestore` and carried out with it: the data is in the 17 server, the app runs, the
old volume is kept, and the next pass is a no-op. A pass SIGKILLed midway is finished by the next.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .support import (
    BUSYBOX_1,
    api,
    cli,
    containers,
    describe,
    engine_skip_reason,
    inspect,
    missing_image_reason,
    volume_exists,
)

OLD, NEW = "reconciler-fixture/postgres:15", "reconciler-fixture/postgres:17"
pytestmark = [pytest.mark.docker]
if reason := engine_skip_reason() or missing_image_reason(OLD, NEW):
    pytestmark.append(pytest.mark.skip(reason=reason))

HOLD = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
PSQL = 'PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"'
ROWS = 500


def write(
    repo: Path,
    stack: str,
    version: str,
    upgrade: str | None = None,
    repository: str = "reconciler-fixture/postgres",
) -> None:
    addon: dict[str, Any] = {"type": "postgresql", "version": version, "tier": "starter"}
    if upgrade is not None:
        addon["upgrade"] = upgrade
    doc = {
        "version": 1,
        "stack": stack,
        "settings": {"images": {"postgresql": repository}},
        # The client tools come with the 15 image; the app only holds and uses psql.
        "apps": {"api": {"image": OLD, "command": HOLD, "addons": ["db"]}},
        "addons": {"db": addon},
    }
    (repo / "stack.yaml").write_text(json.dumps(doc, indent=2))


def run(*args: str | Path, state: Path, env: dict[str, str] | None = None) -> Any:
    return cli(*args, "--state-dir", state, env=env, timeout=300)


def sh(container: str, script: str) -> str:
    exec_id = api().exec_create(container, ["sh", "-c", script])["Id"]
    output = api().exec_start(exec_id).decode()
    code = api().exec_inspect(exec_id)["ExitCode"]
    assert code == 0, f"{script!r} in {container} exited {code}: {output}"
    return str(output).strip()


def seeded(repo: Path, stack: str, state: Path) -> None:
    """PostgreSQL 15 with two tables and ROWS rows, written by the app through DB_URL."""
    write(repo, stack, "15")
    result = run("apply", repo, state=state)
    assert result.returncode == 0, describe(result)
    sh(
        f"{stack}-api-1",
        'psql "$DB_URL" -v ON_ERROR_STOP=1 -qc "create table items (id int primary key, name '
        f"text); insert into items select g, 'item ' || g from generate_series(1, {ROWS}) g; "
        "create table notes (body text); insert into notes values ('kept')\"",
    )


def assert_upgraded(repo: Path, stack: str, state: Path) -> None:
    db = f"{stack}-db"
    assert sh(db, f'{PSQL} -tAc "show server_version"').startswith("17.")
    assert sh(db, f'{PSQL} -tAc "select count(*) from items"') == str(ROWS)
    assert sh(db, f'{PSQL} -tAc "select body from notes"') == "kept"
    mounts = {m.get("Name") for m in inspect(db)["Mounts"]}
    assert f"{stack}-db-data-17" in mounts and f"{stack}-db-data" not in mounts
    assert volume_exists(f"{stack}-db-data"), "the old volume must be kept"
    # The app is running again and reaches the new server with unchanged credentials.
    app = f"{stack}-api-1"
    assert inspect(app)["State"]["Running"]
    out = sh(app, 'psql "$DB_URL" -tAc "select max(id) from items"')
    assert out.splitlines()[-1] == str(ROWS)
    names = sorted(c["Names"][0].lstrip("/") for c in containers(stack))
    assert names == sorted([db, app]), names
    # The next pass changes nothing.
    plan = run("plan", repo, "--detailed-exitcode", state=state)
    assert plan.returncode == 0, describe(plan)
    again = run("apply", repo, state=state)
    assert again.returncode == 0 and "no changes" in again.stdout, describe(again)


def test_major_change_refused_without_dump_restore_then_upgraded_with_it(
    repo: Path, tmp_path: Path, stack: str
) -> None:
    state = tmp_path / "state"
    seeded(repo, stack, state)

    write(repo, stack, "17")
    refused = run("apply", repo, state=state)
    assert refused.returncode != 0, describe(refused)
    assert "major-version change" in refused.stderr and "upgrade: dumpRestore" in refused.stderr
    assert inspect(f"{stack}-db")["Config"]["Image"] == OLD

    # The field alone (same version) moves nothing: no action, same volume, same container.
    before = inspect(f"{stack}-db")["Id"]
    write(repo, stack, "15", "dumpRestore")
    same = run("plan", repo, "--detailed-exitcode", state=state)
    assert same.returncode == 0, describe(same)

    write(repo, stack, "17", "dumpRestore")
    planned = run("plan", repo, "--json", state=state)
    assert planned.returncode == 0, describe(planned)
    actions = {a["name"]: a for a in json.loads(planned.stdout)["actions"]}
    assert actions["db"]["action"] == "upgrade"
    assert {"field": "version", "from": "15", "to": "17"} in actions["db"]["changes"]
    text = run("plan", repo, state=state)
    assert "^ upgrade addon db" in text.stdout, describe(text)

    result = run("apply", repo, state=state)
    assert result.returncode == 0, describe(result)
    assert "is kept" in result.stdout
    assert inspect(f"{stack}-db")["Id"] != before
    assert_upgraded(repo, stack, state)

    backups = run("backups", repo, "--json", state=state)
    records = json.loads(backups.stdout)
    records = records["data"] if isinstance(records, dict) else records
    assert any(r["source"] == "db" and r["status"] == "completed" for r in records), records


@pytest.mark.parametrize(
    "point",
    ["upgrade.volume-created", "upgrade.restored", "upgrade.old-aside", "upgrade.new-healthy"],
)
def test_upgrade_killed_midway_is_finished_by_the_next_apply(
    repo: Path, tmp_path: Path, stack: str, point: str
) -> None:
    state = tmp_path / "state"
    seeded(repo, stack, state)
    write(repo, stack, "17", "dumpRestore")
    killed = run("apply", repo, state=state, env={"RECONCILER_CRASH_AT": point})
    assert killed.returncode == -9, describe(killed)
    assert volume_exists(f"{stack}-db-data")

    result = run("apply", repo, state=state)
    assert result.returncode == 0, describe(result)
    assert_upgraded(repo, stack, state)


def test_a_failed_upgrade_is_undone_and_the_old_version_runs_again(
    repo: Path, tmp_path: Path, stack: str
) -> None:
    state = tmp_path / "state"
    seeded(repo, stack, state)
    # A "17" that cannot run PostgreSQL at all (busybox): the new server never comes up.
    broken = f"reconciler-upgrade-broken-{stack}/postgres"
    api().tag(BUSYBOX_1, broken, "17")
    try:
        write(repo, stack, "17", "dumpRestore", repository=broken)
        failed = run("apply", repo, state=state)
    finally:
        api().remove_image(f"{broken}:17")
    assert failed.returncode != 0, describe(failed)
    assert "failed and was undone" in failed.stderr, describe(failed)

    db = f"{stack}-db"
    assert inspect(db)["Config"]["Image"] == OLD and inspect(db)["State"]["Running"]
    assert sh(db, f'{PSQL} -tAc "select count(*) from items"') == str(ROWS)
    assert not volume_exists(f"{stack}-db-data-17"), "the fresh volume goes with the undo"
    assert inspect(f"{stack}-api-1")["State"]["Running"], "the app runs again"
    names = sorted(c["Names"][0].lstrip("/") for c in containers(stack))
    assert names == sorted([db, f"{stack}-api-1"]), names

    # Back to the declared 15: nothing to do, the old server is exactly as it was.
    write(repo, stack, "15", "dumpRestore")
    plan = run("plan", repo, "--detailed-exitcode", state=state)
    assert plan.returncode == 0, describe(plan)
