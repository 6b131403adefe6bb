"""Add-ons against the real engine with local images built from Debian packages.

Each add-on comes up healthy; an app on the stack network uses the injected URL for a real
query; data survives a recreate and replicas: 0; credentials survive a restart of reconciler and
never show outside `reconciler credentials`; secrets resolve and rotate without leaking.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .support import (
    api,
    cli,
    containers,
    describe,
    engine_skip_reason,
    missing_image_reason,
    volume_exists,
)

pytestmark = [pytest.mark.docker]
if reason := engine_skip_reason():
    pytestmark.append(pytest.mark.skip(reason=reason))

IMAGES = {
    "postgresql": "reconciler-fixture/postgres",
    "mariadb": "reconciler-fixture/mariadb",
    "redis": "reconciler-fixture/redis",
    "rabbitmq": "reconciler-fixture/rabbitmq",
}
# The add-on base image carries every client, so it doubles as the app that uses them.
CLIENT_IMAGE = "reconciler-fixture/postgres:15"
HOLD = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]


ADDON_IMAGES = [
    f"reconciler-fixture/{tag}"
    for tag in ("postgres:15", "mariadb:10.11", "redis:7", "rabbitmq:3.10")
]
if not reason and (missing := missing_image_reason(*ADDON_IMAGES)):
    pytestmark.append(pytest.mark.skip(reason=missing))


def write(repo: Path, stack: str, apps: dict[str, Any], addons: dict[str, Any]) -> Path:
    doc = {
        "version": 1,
        "stack": stack,
        "settings": {"images": IMAGES},
        "apps": apps,
        "addons": addons,
    }
    (repo / "stack.yaml").write_text(json.dumps(doc, indent=2))
    return repo


def run(*args: str | Path, state: Path) -> subprocess.CompletedProcess[str]:
    return cli(*args, "--state-dir", state)


def apply(repo: Path, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    result = run("apply", repo, *extra, state=state)
    assert result.returncode == 0, describe(result)
    return result


def in_app(container: str, script: str) -> str:
    """Run a shell snippet inside an app container (its env holds the injected variables)."""
    out = api().exec_create(container, ["sh", "-c", script])
    output = str(api().exec_start(out["Id"]).decode())
    code = api().exec_inspect(out["Id"])["ExitCode"]
    assert code == 0, f"{script!r} exited {code}: {output}"
    return output


def credentials(repo: Path, state: Path, addon: str) -> dict[str, Any]:
    result = run("credentials", addon, repo, "--json", state=state)
    assert result.returncode == 0, describe(result)
    return dict(json.loads(result.stdout))


def test_postgres_mariadb_redis_rabbitmq_connected_and_used(
    repo: Path, tmp_path: Path, stack: str
) -> None:
    state = tmp_path / "state"
    addons = {
        "db": {"type": "postgresql", "version": "15", "tier": "starter"},
        "sql": {"type": "mariadb", "version": "10.11", "tier": "starter"},
        "cache": {
            "type": "redis",
            "version": "7",
            "tier": "starter",
            "config": {"maxmemory": "64mb"},
        },
        "mq": {"type": "rabbitmq", "version": "3.10", "tier": "starter"},
    }
    app = {"image": CLIENT_IMAGE, "command": HOLD, "addons": ["db", "sql", "cache", "mq"]}
    write(repo, stack, {"api": app}, addons)
    apply(repo, state)
    states = {c["Name"]: c["Status"] for c in containers(stack)}
    for name in ("db", "sql", "cache", "mq"):
        assert "(healthy)" in states[f"{stack}-{name}"], states
    box = f"{stack}-api-1"
    out = in_app(
        box,
        'psql "$DB_URL" -tAc "create table t (v int); insert into t values (42); select v from t"',
    )
    assert out.strip().splitlines()[-1] == "42"
    out = in_app(
        box, 'mariadb -h "$SQL_HOST" -u "$SQL_USER" -p"$SQL_PASSWORD" "$SQL_NAME" -Nse "select 6*7"'
    )
    assert out.strip() == "42"
    out = in_app(box, 'redis-cli -u "$CACHE_URL" --no-auth-warning ping')
    assert out.strip() == "PONG"
    services = json.loads(in_app(box, 'printf %s "$RECONCILER_SERVICES"'))
    assert set(services) == {"db", "sql", "cache", "mq"} and services["mq"]["port"] == 5672
    env = in_app(box, "env")
    assert "MQ_URL=amqp://" in env and "CACHE_USER" not in env and "MQ_NAME" not in env

    creds = credentials(repo, state, "db")
    plan = run("plan", repo, "--json", state=state)
    status = run("status", repo, "--json", state=state)
    labels = json.dumps(
        [api().inspect_container(c["Id"])["Config"]["Labels"] for c in containers(stack)]
    )
    for text in (plan.stdout, plan.stderr, status.stdout, labels):
        assert creds["password"] not in text


def test_data_survives_recreate_and_replicas_zero_and_credentials_survive(
    repo: Path, tmp_path: Path, stack: str
) -> None:
    state = tmp_path / "state"
    addon = {"type": "postgresql", "version": "15", "tier": "starter"}
    app = {"image": CLIENT_IMAGE, "command": HOLD, "addons": ["db"]}
    write(repo, stack, {"api": app}, {"db": addon})
    apply(repo, state)
    before = credentials(repo, state, "db")
    in_app(
        f"{stack}-api-1",
        'psql "$DB_URL" -c "create table t (v text); insert into t values (\'kept\')"',
    )

    write(repo, stack, {"api": app}, {"db": {**addon, "config": {"maxConnections": 50}}})
    plan = run("plan", repo, "--json", state=state)
    actions = {a["name"]: a for a in json.loads(plan.stdout)["actions"]}
    assert actions["db"]["action"] == "recreate" and "api" not in actions
    apply(repo, state)
    query = 'psql "$DB_URL" -tAc "select v from t; show max_connections"'
    assert in_app(f"{stack}-api-1", query).split() == ["kept", "50"]

    write(
        repo,
        stack,
        {"api": app},
        {"db": {**addon, "replicas": 0, "config": {"maxConnections": 50}}},
    )
    apply(repo, state)
    assert f"{stack}-db" not in {c["Name"] for c in containers(stack)}
    assert volume_exists(f"{stack}-db-data")
    write(repo, stack, {"api": app}, {"db": {**addon, "config": {"maxConnections": 50}}})
    apply(repo, state)
    assert in_app(f"{stack}-api-1", 'psql "$DB_URL" -tAc "select v from t"').strip() == "kept"
    assert credentials(repo, state, "db") == before, "credentials must survive every restart"
    assert "no changes" in apply(repo, state).stdout


def test_major_upgrade_refused_and_deletion_policy(repo: Path, tmp_path: Path, stack: str) -> None:
    state = tmp_path / "state"
    cache = {"type": "redis", "version": "7", "tier": "starter"}
    write(
        repo,
        stack,
        {},
        {"cache": cache, "keep": {**cache}, "drop": {**cache, "deletionPolicy": "delete"}},
    )
    apply(repo, state)
    ids = {c["Name"]: c["Id"] for c in containers(stack)}

    write(
        repo,
        stack,
        {},
        {
            "cache": {**cache, "version": "6"},
            "keep": cache,
            "drop": {**cache, "deletionPolicy": "delete"},
        },
    )
    refused = run("apply", repo, state=state)
    assert refused.returncode == 1 and "major-version change" in refused.stderr, describe(refused)
    assert {c["Name"]: c["Id"] for c in containers(stack)} == ids, "a refused apply changes nothing"

    write(repo, stack, {}, {"cache": cache})
    apply(repo, state, "--allow-mass-deletion")  # 2 of 3 go: the guard wants it said
    assert volume_exists(f"{stack}-keep-data"), "deletionPolicy retain keeps the data volume"
    assert not volume_exists(f"{stack}-drop-data"), "deletionPolicy delete removes it"


def test_secrets_resolve_rotate_and_never_leak(repo: Path, tmp_path: Path, stack: str) -> None:
    state, secrets = tmp_path / "state", tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "api-key").write_text("canary-first-7f3a\n")
    app = {
        "image": CLIENT_IMAGE,
        "command": HOLD,
        "env": {"API_KEY": "${secret:api-key}", "MODE": "x"},
    }
    write(repo, stack, {"api": app}, {})
    missing = run("apply", repo, state=state)
    assert missing.returncode == 1 and "secret 'api-key' is not defined" in missing.stderr
    assert "stack.yaml:" in missing.stderr
    result = cli("apply", repo, "--state-dir", state, "--secrets-dir", secrets)
    assert result.returncode == 0, describe(result)
    box = f"{stack}-api-1"
    assert in_app(box, 'printf %s "$API_KEY"') == "canary-first-7f3a"
    first_id = api().inspect_container(box)["Id"]
    (secrets / "api-key").write_text("canary-second-9b1c\n")
    plan = cli("plan", repo, "--json", "--state-dir", state, "--secrets-dir", secrets)
    assert "canary" not in plan.stdout + plan.stderr and '"update"' in plan.stdout
    result = cli("apply", repo, "--state-dir", state, "--secrets-dir", secrets)
    assert result.returncode == 0 and "canary" not in result.stdout + result.stderr
    assert in_app(box, 'printf %s "$API_KEY"') == "canary-second-9b1c"
    assert api().inspect_container(box)["Id"] != first_id, "a rotated secret restarts the app"
    assert "canary" not in json.dumps(api().inspect_container(box)["Config"]["Labels"])


@pytest.mark.parametrize("engine", ["postgresql", "mariadb"])
def test_rotated_password_reaches_server_and_apps(
    repo: Path, tmp_path: Path, stack: str, engine: str
) -> None:
    state = tmp_path / "state"
    version = {"postgresql": "15", "mariadb": "10.11"}[engine]
    addon = {"type": engine, "version": version, "tier": "starter"}
    app = {"image": CLIENT_IMAGE, "command": HOLD, "addons": ["db"]}
    write(repo, stack, {"api": app}, {"db": addon})
    apply(repo, state)
    query = {
        "postgresql": 'psql "$DB_URL" -tAc "select 42"',
        "mariadb": 'mariadb -h db -u "$DB_USER" -p"$DB_PASSWORD" "$DB_NAME" -Nse "select 42"',
    }[engine]
    assert in_app(f"{stack}-api-1", query).strip() == "42"
    before = credentials(repo, state, "db")
    rotated = run("credentials", "db", repo, "--rotate", "--json", state=state)
    assert rotated.returncode == 0, describe(rotated)
    after = json.loads(rotated.stdout[rotated.stdout.index("{") :])
    assert after["password"] != before["password"]
    assert after["password"] not in rotated.stdout.replace(
        rotated.stdout[rotated.stdout.index("{") :], ""
    )
    plan = run("plan", repo, "--json", state=state)
    names = {a["name"] for a in json.loads(plan.stdout)["actions"]}
    assert names == {"db", "api"}, "the add-on and its connected app restart with the new password"
    assert after["password"] not in plan.stdout
    apply(repo, state)
    assert in_app(f"{stack}-api-1", query).strip() == "42"


def test_existing_data_without_credentials_is_refused(
    repo: Path, tmp_path: Path, stack: str
) -> None:
    write(repo, stack, {}, {"cache": {"type": "redis", "version": "7", "tier": "starter"}})
    apply(repo, tmp_path / "first")
    other = tmp_path / "other"
    refused = run("apply", repo, state=other)
    assert refused.returncode == 1, describe(refused)
    assert "already have data" in refused.stderr and "--state-dir" in refused.stderr
    assert not list(other.glob("credentials/*/*.json")), "no unusable credentials are kept"
    assert "no changes" in apply(repo, tmp_path / "first").stdout


def test_disk_can_only_grow(repo: Path, tmp_path: Path, stack: str) -> None:
    state = tmp_path / "state"
    cache = {"type": "redis", "version": "7", "tier": "starter", "disk": "2Gi"}
    write(repo, stack, {}, {"cache": cache})
    apply(repo, state)
    write(repo, stack, {}, {"cache": {**cache, "disk": "1Gi"}})
    refused = run("apply", repo, state=state)
    assert (
        refused.returncode == 1
        and "disk can only grow (2Gi declared before, 1Gi now)" in refused.stderr
    )
    write(repo, stack, {}, {"cache": {**cache, "disk": "4Gi"}})
    assert "no changes" in apply(repo, state).stdout, "growing the budget restarts nothing"
