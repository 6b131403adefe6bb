"""The add-on catalog, engine by engine: images, variables, health checks, config, URLs and
dump commands. MongoDB, Valkey and MinIO have no Debian package to test against for real, so
these checks are all they get here; the other engines also run in the integration tests."""

from __future__ import annotations

import json

import pytest

from reconciler.addons.catalog import CATALOG, TIERS, check_config, server_arguments
from reconciler.addons.spec import Credentials
from reconciler.desired.addons import connection_env, resolve_addon
from reconciler.desired.inputs import BuildInputs
from reconciler.manifests.models import Addon

CREDS = Credentials(user="app", password="p4ss-word_X", database="app")


class FixedCredentials:
    def credentials(self, stack: str, addon: str, user: str, database: str) -> Credentials:
        return Credentials(user, CREDS.password, database)


def test_catalog_has_the_eight_engines() -> None:
    assert sorted(CATALOG) == sorted(
        ["postgresql", "mysql", "mariadb", "mongodb", "redis", "valkey", "rabbitmq", "minio"]
    )


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_entry_is_complete_and_keeps_passwords_out_of_commands(name: str) -> None:
    engine = CATALOG[name]
    env = engine.bootstrap_env(CREDS)
    assert engine.secret_env and engine.secret_env <= set(env), "every secret variable is set"
    assert CREDS.password in {env[key] for key in engine.secret_env}
    assert engine.healthcheck[0] == "CMD-SHELL" and CREDS.password not in engine.healthcheck[1]
    for command in (engine.command, engine.backup_command, engine.restore_command):
        assert CREDS.password not in " ".join(command)
    if engine.rotate_command is not None:
        assert "read -r NEW" in engine.rotate_command[2], "the new password comes on stdin"
    assert engine.data_path.startswith("/") and 0 < engine.port < 65536
    assert engine.default_version == engine.versions[-1]
    assert engine.image(engine.default_version).startswith(engine.image_repository + ":")
    assert engine.image("x", "mirror.example/db") == "mirror.example/db:x"


@pytest.mark.parametrize(
    ("name", "url", "missing"),
    [
        ("postgresql", "postgresql://app:p4ss-word_X@db:5432/app", set()),
        ("mysql", "mysql://app:p4ss-word_X@db:3306/app", set()),
        ("mariadb", "mysql://app:p4ss-word_X@db:3306/app", set()),
        ("mongodb", "mongodb://app:p4ss-word_X@db:27017/app?authSource=admin", set()),
        ("redis", "redis://default:p4ss-word_X@db:6379/0", {"USER", "NAME"}),
        ("valkey", "redis://default:p4ss-word_X@db:6379/0", {"USER", "NAME"}),
        ("rabbitmq", "amqp://app:p4ss-word_X@db:5672/%2F", {"NAME"}),
        ("minio", "http://db:9000", {"NAME"}),
    ],
)
def test_connection_urls_and_injected_fields(name: str, url: str, missing: set[str]) -> None:
    addon = Addon.model_validate({"type": name})
    inputs = BuildInputs(FixedCredentials())
    plan = resolve_addon("shop", "db", addon, {}, inputs)
    assert plan.connection.url == url
    env, secret = connection_env([plan])
    fields = {key.removeprefix("DB_") for key in env if key.startswith("DB_")}
    assert fields == {"URL", "HOST", "PORT", "USER", "PASSWORD", "NAME"} - missing
    assert {"DB_URL", "DB_PASSWORD", "RECONCILER_SERVICES"} <= secret
    services = json.loads(env["RECONCILER_SERVICES"])
    assert services["db"]["type"] == name and services["db"]["port"] == plan.connection.port


def test_dashes_become_underscores_in_variable_names() -> None:
    inputs = BuildInputs(FixedCredentials())
    plan = resolve_addon("shop", "orders-db", Addon.model_validate({"type": "redis"}), {}, inputs)
    env, _ = connection_env([plan])
    assert "ORDERS_DB_URL" in env and "ORDERS_DB_HOST" in env


def test_container_spec_from_the_catalog_and_tier_overrides() -> None:
    addon = Addon.model_validate(
        {"type": "mongodb", "version": "7.0", "tier": "premium", "memory": "1Gi",
         "config": {"wiredTigerCacheSizeGB": 0.5}, "publish": "127.0.0.1:27017"}
    )  # fmt: skip
    plan = resolve_addon(
        "shop", "docs", addon, {"mongodb": "mirror/mongo"}, BuildInputs(FixedCredentials())
    )
    spec = plan.template
    assert spec.image == "mirror/mongo:7.0" and spec.name == "shop-docs"
    assert spec.command == ("mongod", "--wiredTigerCacheSizeGB", "0.5")
    assert spec.memory_bytes == 1024**3 and spec.nano_cpus == 2_000_000_000  # premium cpu
    assert spec.volumes[0].volume == "shop-docs-data" and spec.volumes[0].target == "/data/db"
    assert spec.ports[0].host_ip == "127.0.0.1" and spec.ports[0].container_port == 27017
    assert spec.hostname == "docs" and spec.alias == "docs"
    assert plan.disk_bytes == 100 * 1024**3 == int(TIERS["premium"][2].removesuffix("Gi")) * 1024**3


@pytest.mark.parametrize(
    ("name", "config", "flags", "env"),
    [
        ("postgresql", {"maxConnections": 200, "sharedBuffers": "512MB"},
         ["-c", "max_connections=200", "-c", "shared_buffers=512MB"], {}),
        ("mariadb", {"maxConnections": 50}, ["--max-connections=50"], {}),
        ("valkey", {"maxmemory": "64mb", "appendonly": True},
         ["--appendonly", "yes", "--maxmemory", "64mb"], {}),
        ("rabbitmq", {"vmMemoryHighWatermark": 0.6}, [],
         {"RABBITMQ_VM_MEMORY_HIGH_WATERMARK": "0.6"}),
        ("minio", {"browser": False, "region": "eu-west-1"}, [],
         {"MINIO_BROWSER": "off", "MINIO_REGION": "eu-west-1"}),
    ],
)  # fmt: skip
def test_config_reaches_the_server(
    name: str, config: dict[str, object], flags: list[str], env: dict[str, str]
) -> None:
    assert check_config(CATALOG[name], config) == []
    assert server_arguments(CATALOG[name], config) == (flags, env)


def test_bad_config_names_the_allowed_keys_and_types() -> None:
    problems = dict(
        check_config(CATALOG["redis"], {"maxmem": "1gb", "databases": "many", "appendonly": 1})
    )
    assert problems["maxmem"].startswith("unknown redis config key; allowed: appendonly, ")
    assert problems["databases"] == "must be an integer"
    assert problems["appendonly"] == "must be true or false"


@pytest.mark.parametrize(
    ("name", "version", "major"),
    [("postgresql", "15.4", "15"), ("mariadb", "10.11.6", "10.11"), ("mongodb", "7.0.2", "7.0"),
     ("redis", "7.2", "7"), ("rabbitmq", "3.13.1", "3.13")],
)  # fmt: skip
def test_major_versions(name: str, version: str, major: str) -> None:
    assert CATALOG[name].major_of(version) == major


@pytest.mark.parametrize("name", ["mongodb", "valkey", "minio"])
def test_engines_without_debian_packages_have_real_commands(name: str) -> None:
    engine = CATALOG[name]
    text = " ".join(engine.healthcheck)
    assert {"mongodb": "mongosh", "valkey": "valkey-cli", "minio": "/minio/health/live"}[
        name
    ] in text
    if name != "minio":  # MinIO data is a volume tar through a helper container
        assert engine.backup_command and engine.restore_command
