"""The shape of a catalog entry: pure data plus small pure functions, one instance per engine."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote


class ConfigType(enum.StrEnum):
    INT = "integer"
    SIZE = "size"  # '512MB', '1GB', '64mb': passed through as written
    STRING = "string"
    BOOL = "boolean"
    FLOAT = "number"
    CHOICE = "choice"


@dataclass(frozen=True)
class ConfigKey:
    """One `config` key: its type and how it reaches the server (a flag, or an env variable)."""

    type: ConfigType
    #: Server arguments, each formatted with {value}: ("-c", "max_connections={value}").
    flag: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    env: str | None = None  # set this variable instead of passing a flag
    minimum: float | None = None


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str
    database: str


@dataclass(frozen=True)
class Connection:
    """How an app reaches an add-on; fields an engine lacks stay None and are not injected."""

    url: str
    host: str
    port: int
    user: str | None
    password: str | None
    database: str | None


@dataclass(frozen=True)
class Engine:
    """Everything reconciler needs to run, connect, health-check and back up one engine."""

    name: str
    image_repository: str
    versions: tuple[str, ...]  # known versions, newest last; the last is the default
    port: int
    data_path: str
    #: Version → the part that must not change in place (e.g. '15' of '15.4', '10.11' of MariaDB).
    major_of: Callable[[str], str]
    bootstrap_env: Callable[[Credentials], dict[str, str]]
    #: Env variables carrying secrets (masked in labels and plans).
    secret_env: frozenset[str]
    healthcheck: tuple[str, ...]
    connection: Callable[[Credentials, str], Connection]
    #: Arguments of the server command; config flags are appended.
    command: tuple[str, ...] = ()
    config: Mapping[str, ConfigKey] = field(default_factory=dict)
    default_user: str = "app"
    has_database: bool = True
    #: Shell commands run with `docker exec` inside the add-on; dump writes to stdout,
    #: restore reads from stdin. Variables come from the container's own environment.
    backup_command: tuple[str, ...] = ()
    restore_command: tuple[str, ...] = ()
    backup_extension: str = "dump"
    #: Changes the password inside a running server, reading the new one from stdin (so it is
    #: in no command line or engine event). None: the server reads it from env at each start.
    rotate_command: tuple[str, ...] | None = None

    @property
    def default_version(self) -> str:
        return self.versions[-1]

    def known_majors(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.major_of(v) for v in self.versions))

    def image(self, version: str, repository: str | None = None) -> str:
        return f"{repository or self.image_repository}:{version}"


def first_component(version: str) -> str:
    return version.split(".")[0]


def two_components(version: str) -> str:
    return ".".join(version.split(".")[:2])


def url_quote(value: str) -> str:
    return quote(value, safe="")
