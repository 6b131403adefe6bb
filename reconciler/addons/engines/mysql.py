"""MySQL and MariaDB: the official images' bootstrap variables, mysqladmin ping, mysqldump."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.addons.spec import (
    ConfigKey,
    ConfigType,
    Connection,
    Credentials,
    Engine,
    two_components,
    url_quote,
)


def _config() -> dict[str, ConfigKey]:
    return {
        "maxConnections": ConfigKey(ConfigType.INT, ("--max-connections={value}",), minimum=1),
        "innodbBufferPoolSize": ConfigKey(ConfigType.SIZE, ("--innodb-buffer-pool-size={value}",)),
        "characterSet": ConfigKey(ConfigType.STRING, ("--character-set-server={value}",)),
        "collation": ConfigKey(ConfigType.STRING, ("--collation-server={value}",)),
        "waitTimeout": ConfigKey(ConfigType.INT, ("--wait-timeout={value}",), minimum=1),
    }


def _connection(c: Credentials, host: str) -> Connection:
    url = f"mysql://{url_quote(c.user)}:{url_quote(c.password)}@{host}:3306/{c.database}"
    return Connection(url, host, 3306, c.user, c.password, c.database)


def _rotate(client: str, prefix: str) -> tuple[str, ...]:
    users = ("'root'@'%'", "'root'@'localhost'", f"'${prefix}_USER'@'%'")
    statements = "; ".join(f"ALTER USER IF EXISTS {user} IDENTIFIED BY '$NEW'" for user in users)
    script = (
        f'read -r NEW && MYSQL_PWD="${prefix}_ROOT_PASSWORD" {client} -u root -e "{statements}"'
    )
    return ("sh", "-c", script)


@dataclass(frozen=True)
class _Flavor:
    """What differs between MySQL and MariaDB: names of the image, variables and binaries."""

    name: str
    versions: tuple[str, ...]
    prefix: str  # MYSQL | MARIADB, as the official images name their variables
    server: str
    admin: str
    client: str
    dump: str


def _engine(flavor: _Flavor) -> Engine:
    prefix = flavor.prefix
    root_pwd = f'MYSQL_PWD="${prefix}_ROOT_PASSWORD"'

    def env(c: Credentials) -> dict[str, str]:
        return {
            f"{prefix}_ROOT_PASSWORD": c.password,
            f"{prefix}_USER": c.user,
            f"{prefix}_PASSWORD": c.password,
            f"{prefix}_DATABASE": c.database,
        }

    return Engine(
        name=flavor.name,
        image_repository=flavor.name,
        versions=flavor.versions,
        port=3306,
        data_path="/var/lib/mysql",
        major_of=two_components,
        bootstrap_env=env,
        secret_env=frozenset({f"{prefix}_ROOT_PASSWORD", f"{prefix}_PASSWORD"}),
        # Over TCP: the bootstrap server listens on the socket only and looks ready too early.
        healthcheck=("CMD-SHELL", f"{flavor.admin} ping -h 127.0.0.1 --protocol=tcp --silent"),
        connection=_connection,
        command=(flavor.server,),
        config=_config(),
        backup_command=(
            "sh", "-c", f"{root_pwd} {flavor.dump} -h 127.0.0.1 -u root --single-transaction "
            f'--routines --triggers --databases "${prefix}_DATABASE"',
        ),
        restore_command=("sh", "-c", f"{root_pwd} {flavor.client} -h 127.0.0.1 -u root"),
        backup_extension="sql",
        rotate_command=_rotate(flavor.client, prefix),
    )  # fmt: skip


MYSQL = _engine(
    _Flavor("mysql", ("8.0", "8.4"), "MYSQL", "mysqld", "mysqladmin", "mysql", "mysqldump")
)
MARIADB = _engine(
    _Flavor(
        "mariadb",
        ("10.6", "10.11", "11.4"),
        "MARIADB",
        "mariadbd",
        "mariadb-admin",
        "mariadb",
        "mariadb-dump",
    )
)
