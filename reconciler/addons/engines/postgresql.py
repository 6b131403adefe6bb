"""PostgreSQL: the official `postgres` image's bootstrap variables, pg_isready, pg_dump -Fc."""

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


def _env(c: Credentials) -> dict[str, str]:
    return {
        "POSTGRES_USER": c.user,
        "POSTGRES_PASSWORD": c.password,
        "POSTGRES_DB": c.database,
        "PGDATA": "/var/lib/postgresql/data/pgdata",
    }


def _connection(c: Credentials, host: str) -> Connection:
    url = f"postgresql://{url_quote(c.user)}:{url_quote(c.password)}@{host}:5432/{c.database}"
    return Connection(url, host, 5432, c.user, c.password, c.database)


def _setting(name: str) -> tuple[str, ...]:
    return ("-c", f"{name}={{value}}")


ENGINE = Engine(
    name="postgresql",
    image_repository="postgres",
    versions=("13", "14", "15", "16", "17"),
    port=5432,
    data_path="/var/lib/postgresql/data",
    major_of=first_component,
    bootstrap_env=_env,
    secret_env=frozenset({"POSTGRES_PASSWORD"}),
    healthcheck=("CMD-SHELL", 'pg_isready -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"'),
    connection=_connection,
    command=("postgres",),
    config={
        "maxConnections": ConfigKey(ConfigType.INT, _setting("max_connections"), minimum=1),
        "sharedBuffers": ConfigKey(ConfigType.SIZE, _setting("shared_buffers")),
        "workMem": ConfigKey(ConfigType.SIZE, _setting("work_mem")),
        "maintenanceWorkMem": ConfigKey(ConfigType.SIZE, _setting("maintenance_work_mem")),
        "effectiveCacheSize": ConfigKey(ConfigType.SIZE, _setting("effective_cache_size")),
        "statementTimeout": ConfigKey(ConfigType.INT, _setting("statement_timeout"), minimum=0),
        "logMinDurationStatement": ConfigKey(
            ConfigType.INT, _setting("log_min_duration_statement"), minimum=-1
        ),
    },
    backup_command=(
        "sh", "-c", 'PGPASSWORD="$POSTGRES_PASSWORD" pg_dump -h 127.0.0.1 -U "$POSTGRES_USER" '
        '-d "$POSTGRES_DB" -Fc',
    ),
    restore_command=(
        "sh", "-c", 'PGPASSWORD="$POSTGRES_PASSWORD" pg_restore -h 127.0.0.1 -U "$POSTGRES_USER" '
        '-d "$POSTGRES_DB" --clean --if-exists --no-owner',
    ),
    backup_extension="pgdump",
    rotate_command=(
        "sh", "-c", 'read -r NEW && psql -v ON_ERROR_STOP=1 -q -U "$POSTGRES_USER" '
        '-d "$POSTGRES_DB" -c "ALTER USER \\"$POSTGRES_USER\\" WITH PASSWORD \'$NEW\'"',
    ),
)  # fmt: skip
