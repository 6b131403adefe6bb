"""Redis and Valkey: password through the environment (never on the command line), RDB dumps."""

from __future__ import annotations

from reconciler.addons.spec import (
    ConfigKey,
    ConfigType,
    Connection,
    Credentials,
    Engine,
    first_component,
    url_quote,
)

_POLICIES = (
    "noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
    "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
)  # fmt: skip


def _config(server: str) -> dict[str, ConfigKey]:
    return {
        "maxmemory": ConfigKey(ConfigType.SIZE, ("--maxmemory", "{value}")),
        "maxmemoryPolicy": ConfigKey(
            ConfigType.CHOICE, ("--maxmemory-policy", "{value}"), choices=_POLICIES
        ),
        "appendonly": ConfigKey(ConfigType.BOOL, ("--appendonly", "{value}")),
        "databases": ConfigKey(ConfigType.INT, ("--databases", "{value}"), minimum=1),
    }


def _env(c: Credentials) -> dict[str, str]:
    return {"REDIS_PASSWORD": c.password}


def _connection(c: Credentials, host: str) -> Connection:
    # "default" is the ACL user that requirepass sets; older clients ignore the name.
    url = f"redis://default:{url_quote(c.password)}@{host}:6379/0"
    return Connection(url, host, 6379, None, c.password, None)


def _engine(name: str, repository: str, server: str, cli: str, versions: tuple[str, ...]) -> Engine:
    # `sh -c` keeps the password in the environment: a flag would show in labels and `ps`.
    start = f'exec {server} --dir /data --requirepass "$REDIS_PASSWORD" "$@"'
    auth = f'{cli} --no-auth-warning -a "$REDIS_PASSWORD"'
    return Engine(
        name=name,
        image_repository=repository,
        versions=versions,
        port=6379,
        data_path="/data",
        major_of=first_component,
        bootstrap_env=_env,
        secret_env=frozenset({"REDIS_PASSWORD"}),
        healthcheck=("CMD-SHELL", f"{auth} ping | grep -q PONG"),
        connection=_connection,
        command=("sh", "-c", start, server),
        config=_config(server),
        has_database=False,
        # --rdb streams a point-in-time snapshot from the server over the replication protocol.
        backup_command=("sh", "-c", f"{auth} --rdb - 2>/dev/null"),
        # Restore replaces the RDB file while the server is stopped; the backups module drives it.
        restore_command=("sh", "-c", "cat > /data/dump.rdb"),
        backup_extension="rdb",
    )


REDIS = _engine("redis", "redis", "redis-server", "redis-cli", ("6", "7", "7.2", "7.4"))
VALKEY = _engine("valkey", "valkey/valkey", "valkey-server", "valkey-cli", ("7.2", "8", "8.0"))
