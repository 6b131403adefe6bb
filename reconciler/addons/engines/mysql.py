"""MySQL and MariaDB: the official images' bootstrap variables, mysqladmin ping, mysqldump."""

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


def _mysql_env(c: Credentials) -> dict[str, str]:
    return {
        "MYSQL_ROOT_PASSWORD": c.password,
        "MYSQL_USER": c.user,
        "MYSQL_PASSWORD": c.password,
        "MYSQL_DATABASE": c.database,
    }


def _mariadb_env(c: Credentials) -> dict[str, str]:
    return {
        "MARIADB_ROOT_PASSWORD": c.password,
        "MARIADB_USER": c.user,
        "MARIADB_PASSWORD": c.password,
        "MARIADB_DATABASE": c.database,
    }


MYSQL = Engine(
    name="mysql",
    image_repository="mysql",
    versions=("8.0", "8.4"),
    port=3306,
    data_path="/var/lib/mysql",
    major_of=two_components,
    bootstrap_env=_mysql_env,
    secret_env=frozenset({"MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD"}),
    # Over TCP: the bootstrap server listens on the socket only and would look ready too early.
    healthcheck=("CMD-SHELL", "mysqladmin ping -h 127.0.0.1 --protocol=tcp --silent"),
    connection=_connection,
    command=("mysqld",),
    config=_config(),
    backup_command=(
        "sh", "-c", 'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mysqldump -h 127.0.0.1 -u root '
        '--single-transaction --routines --triggers --databases "$MYSQL_DATABASE"',
    ),
    restore_command=("sh", "-c", 'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mysql -h 127.0.0.1 -u root'),
    backup_extension="sql",
    rotate_command=_rotate("mysql", "MYSQL"),
)  # fmt: skip

MARIADB = Engine(
    name="mariadb",
    image_repository="mariadb",
    versions=("10.6", "10.11", "11.4"),
    port=3306,
    data_path="/var/lib/mysql",
    major_of=two_components,
    bootstrap_env=_mariadb_env,
    secret_env=frozenset({"MARIADB_ROOT_PASSWORD", "MARIADB_PASSWORD"}),
    healthcheck=("CMD-SHELL", "mariadb-admin ping -h 127.0.0.1 --protocol=tcp --silent"),
    connection=_connection,
    command=("mariadbd",),
    config=_config(),
    backup_command=(
        "sh", "-c", 'MYSQL_PWD="$MARIADB_ROOT_PASSWORD" mariadb-dump -h 127.0.0.1 -u root '
        '--single-transaction --routines --triggers --databases "$MARIADB_DATABASE"',
    ),
    restore_command=("sh", "-c", 'MYSQL_PWD="$MARIADB_ROOT_PASSWORD" mariadb -h 127.0.0.1 -u root'),
    backup_extension="sql",
    rotate_command=_rotate("mariadb", "MARIADB"),
)  # fmt: skip
