"""MongoDB: the official image's root-user variables, mongosh ping, mongodump --archive."""

from __future__ import annotations

from reconciler.addons.spec import (
    ConfigKey,
    ConfigType,
    Connection,
    Credentials,
    Engine,
    two_components,
    url_quote,
)


def _env(c: Credentials) -> dict[str, str]:
    return {
        "MONGO_INITDB_ROOT_USERNAME": c.user,
        "MONGO_INITDB_ROOT_PASSWORD": c.password,
        "MONGO_INITDB_DATABASE": c.database,
    }


def _connection(c: Credentials, host: str) -> Connection:
    user, password = url_quote(c.user), url_quote(c.password)
    url = f"mongodb://{user}:{password}@{host}:27017/{c.database}?authSource=admin"
    return Connection(url, host, 27017, c.user, c.password, c.database)


_AUTH = (
    '-u "$MONGO_INITDB_ROOT_USERNAME" -p "$MONGO_INITDB_ROOT_PASSWORD" '
    "--authenticationDatabase admin"
)

ENGINE = Engine(
    name="mongodb",
    image_repository="mongo",
    versions=("6.0", "7.0", "8.0"),
    port=27017,
    data_path="/data/db",
    major_of=two_components,
    bootstrap_env=_env,
    secret_env=frozenset({"MONGO_INITDB_ROOT_PASSWORD"}),
    healthcheck=("CMD-SHELL", "mongosh --quiet --eval 'db.adminCommand(\"ping\").ok' | grep -q 1"),
    connection=_connection,
    command=("mongod",),
    config={
        "wiredTigerCacheSizeGB": ConfigKey(
            ConfigType.FLOAT, ("--wiredTigerCacheSizeGB", "{value}"), minimum=0.25
        ),
        "maxConns": ConfigKey(ConfigType.INT, ("--maxConns", "{value}"), minimum=1),
    },
    backup_command=("sh", "-c", f"mongodump {_AUTH} --archive --gzip"),
    restore_command=("sh", "-c", f"mongorestore {_AUTH} --archive --gzip --drop"),
    backup_extension="archive.gz",
    rotate_command=(
        "sh",
        "-c",
        f"read -r NEW && mongosh --quiet {_AUTH} --eval "
        "\"db.getSiblingDB('admin').changeUserPassword('$MONGO_INITDB_ROOT_USERNAME', '$NEW')\"",
    ),
)
