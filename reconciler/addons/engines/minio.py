"""MinIO: root user/password variables, the live health endpoint, volume tar backups."""

from __future__ import annotations

from reconciler.addons.spec import (
    ConfigKey,
    ConfigType,
    Connection,
    Credentials,
    Engine,
)


def _env(c: Credentials) -> dict[str, str]:
    return {"MINIO_ROOT_USER": c.user, "MINIO_ROOT_PASSWORD": c.password}


def _connection(c: Credentials, host: str) -> Connection:
    # S3 clients take the keys separately; the URL is the endpoint only.
    return Connection(f"http://{host}:9000", host, 9000, c.user, c.password, None)


ENGINE = Engine(
    name="minio",
    image_repository="minio/minio",
    versions=("RELEASE.2024-10-13T13-34-11Z", "RELEASE.2025-04-22T22-12-26Z"),
    port=9000,
    data_path="/data",
    major_of=lambda version: "minio",
    bootstrap_env=_env,
    secret_env=frozenset({"MINIO_ROOT_PASSWORD"}),
    healthcheck=(
        "CMD-SHELL",
        "mc ready local || curl -fsS http://127.0.0.1:9000/minio/health/live",
    ),
    connection=_connection,
    command=("server", "/data"),
    config={
        "region": ConfigKey(ConfigType.STRING, env="MINIO_REGION"),
        "browser": ConfigKey(ConfigType.BOOL, env="MINIO_BROWSER"),
    },
    default_user="admin",
    has_database=False,
    # No dump tool: the backups module tars the data volume through a helper container.
    backup_extension="tar.gz",
)
