"""What backups need per engine beyond the catalog's dump and restore commands.

The catalog says how to dump and load; this says how the data is handled around that: whether
the dump is already compressed, whether loading needs the server stopped (Redis reads its RDB
file only at start), and which query proves a restored copy is usable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.addons.spec import Engine


@dataclass(frozen=True)
class EngineBackup:
    #: Stored as is: compressing pg_dump -Fc or a gzipped archive again only costs CPU.
    precompressed: bool = False
    #: Restore writes files into the data volume while the server is stopped.
    offline_restore: bool = False
    #: No dump tool: a tar of the data volume through a helper container.
    volume_tar: bool = False
    #: Run in a restored copy; prints one number (tables, keys, vhosts) on success.
    check: tuple[str, ...] = ()
    check_label: str = ""
    #: Bytes every real dump has at `magic_offset` (or, with `magic_window`, somewhere in the
    #: that many bytes from there): output that lacks them (an error message printed by a
    #: command that still exited 0) is not a backup.
    magic: bytes = b""
    magic_offset: int = 0
    magic_window: int = 0
    #: Bytes a whole dump ends with, somewhere in its last `trailer_window` bytes: a dump cut
    #: short (a tool stopped mid-way that still exited 0) lacks them.
    trailer: bytes = b""
    trailer_window: int = 0


def _sh(script: str) -> tuple[str, ...]:
    return ("sh", "-c", script)


_PG_COUNT = (
    "SELECT count(*) FROM information_schema.tables "
    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
)


def _mysql_check(client: str, prefix: str) -> tuple[str, ...]:
    query = (
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = '$"
        + prefix
        + "_DATABASE'"
    )
    return _sh(f'MYSQL_PWD="${prefix}_ROOT_PASSWORD" {client} -h 127.0.0.1 -u root -N -e "{query}"')


def _redis_check(cli: str) -> tuple[str, ...]:
    return _sh(f'{cli} --no-auth-warning -a "$REDIS_PASSWORD" dbsize')


#: mysqldump and mariadb-dump end with "-- Dump completed on DATE".
DUMP_COMPLETED = b"-- Dump completed"
#: An RDB file starts "REDIS" + version. No trailer check: through a diskless transfer (the
#: default since Redis 7) `redis-cli --rdb` output ends with the 40-byte EOF mark instead.
_RDB: dict[str, Any] = {"magic": b"REDIS"}

BEHAVIOUR: dict[str, EngineBackup] = {
    "postgresql": EngineBackup(
        precompressed=True,
        magic=b"PGDMP",  # pg_dump -Fc
        check=_sh(
            'PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -U "$POSTGRES_USER" '
            f'-d "$POSTGRES_DB" -tA -c "{_PG_COUNT}"'
        ),
        check_label="tables",
    ),
    # "-- MySQL dump 10.13 ...", "-- MariaDB dump 10.19 ...": recent MariaDB dumps put a
    # "/*M!999999\- enable the sandbox mode */" line before it.
    "mysql": EngineBackup(
        check=_mysql_check("mysql", "MYSQL"),
        check_label="tables",
        magic=b"-- MySQL dump ",
        magic_window=256,
        trailer=DUMP_COMPLETED,
        trailer_window=256,
    ),
    "mariadb": EngineBackup(
        check=_mysql_check("mariadb", "MARIADB"),
        check_label="tables",
        magic=b"-- MariaDB dump ",
        magic_window=256,
        trailer=DUMP_COMPLETED,
        trailer_window=256,
    ),
    "mongodb": EngineBackup(
        precompressed=True,
        magic=b"\x1f\x8b",  # --archive --gzip
        check=_sh(
            'mongosh --quiet -u "$MONGO_INITDB_ROOT_USERNAME" -p "$MONGO_INITDB_ROOT_PASSWORD" '
            '--authenticationDatabase admin "$MONGO_INITDB_DATABASE" '
            "--eval 'db.getCollectionNames().length'"
        ),
        check_label="collections",
    ),
    "redis": EngineBackup(
        offline_restore=True,
        check=_redis_check("redis-cli"),
        check_label="keys",
        **_RDB,
    ),
    "valkey": EngineBackup(
        offline_restore=True,
        check=_redis_check("valkey-cli"),
        check_label="keys",
        **_RDB,
    ),
    "rabbitmq": EngineBackup(
        check=_sh("rabbitmqctl -q list_vhosts | wc -l"), check_label="vhosts", magic=b"{"
    ),
    "minio": EngineBackup(volume_tar=True),
}
#: A tar archive's first header names its format at byte 257 (POSIX "ustar", GNU "ustar  "),
#: and a whole archive ends with two zero blocks.
TAR_MAGIC, TAR_MAGIC_OFFSET = b"ustar", 257
TAR_END = b"\0" * 1024


def behaviour(engine: Engine) -> EngineBackup:
    return BEHAVIOUR.get(engine.name, EngineBackup(volume_tar=not engine.backup_command))


#: Helper scripts for volume backups (busybox sh and tar are enough).
TAR_OUT = ("tar", "-C", "/volume", "-cf", "-", ".")
#: Extract beside the old content first, so a broken archive never leaves a half-empty volume.
TAR_IN = _sh(
    "set -e; cd /volume; rm -rf .reconciler-restore; mkdir .reconciler-restore; "
    "tar -C .reconciler-restore -xf -; "
    "find . -mindepth 1 -maxdepth 1 ! -name .reconciler-restore -exec rm -rf {} +; "
    "cd .reconciler-restore; "
    'for f in * .[!.]* ..?*; do if [ -e "$f" ] || [ -L "$f" ]; then mv "$f" /volume/; fi; done; '
    "cd /volume; rmdir .reconciler-restore"
)
TAR_LIST = _sh("tar -tf - > /tmp/entries && wc -l < /tmp/entries")
