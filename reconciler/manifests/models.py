"""Pydantic models of manifest version 1: the single source of truth for format and schema."""

from __future__ import annotations

import re
import zoneinfo
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from reconciler.manifests.cron import cron_fields

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,39}$"
DURATION_PATTERN = r"^(\d+(ms|s|m|h))+$"
ENV_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
CPU_PATTERN = r"^(\d+(\.\d+)?|\d+m)$"
MEMORY_PATTERN = r"^\d+(Ki|Mi|Gi|Ti|k|K|M|G|T)?$"
IMAGE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$"
ABSOLUTE_PATH_PATTERN = r"^/"
HTTP_PATH_PATTERN = r"^/\S*$"

#: What each pattern means, for error messages: "'5 seconds' is not a duration: ...".
PATTERN_HINTS = {
    NAME_PATTERN: "a valid name: lowercase letters, digits and '-', starting with a letter, "
    "at most 40 long",
    DURATION_PATTERN: "a duration: a number with a unit, e.g. 500ms, 10s, 1m30s or 2h",
    ENV_KEY_PATTERN: "an environment variable name: letters, digits and '_', "
    "not starting with a digit",
    CPU_PATTERN: "a CPU quantity: e.g. 1, 0.5 or 500m",
    MEMORY_PATTERN: "a memory quantity: bytes, or a number with a unit, e.g. 64M, 512Mi or 1Gi",
    IMAGE_PATTERN: "an image reference: e.g. ghcr.io/acme/web:1.4.2",
    ABSOLUTE_PATH_PATTERN: "an absolute path: it must start with '/'",
    HTTP_PATH_PATTERN: "a URL path: it must start with '/' and contain no spaces",
}


def _number_as_text(value: Any) -> Any:
    # `cpu: 1` and `memory: 1048576` are natural YAML; the quantity patterns apply to the text.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Duration = Annotated[str, StringConstraints(pattern=DURATION_PATTERN)]


def _env_scalar(value: Any) -> str:
    # YAML reads `true`, `8080` and `0.5` as typed scalars; containers only ever see strings.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    got = {dict: "a mapping", list: "a list", type(None): "an empty value"}.get(type(value))
    raise ValueError(f"expected a string, number or boolean, got {got or type(value).__name__}")


EnvValue = Annotated[
    str, BeforeValidator(_env_scalar, json_schema_input_type=str | int | float | bool)
]
EnvKey = Annotated[str, StringConstraints(pattern=ENV_KEY_PATTERN)]
_CpuText = Annotated[str, StringConstraints(pattern=CPU_PATTERN)]
_MemoryText = Annotated[str, StringConstraints(pattern=MEMORY_PATTERN)]
CpuQuantity = Annotated[
    _CpuText, BeforeValidator(_number_as_text, json_schema_input_type=_CpuText | int | float)
]
MemoryQuantity = Annotated[
    _MemoryText, BeforeValidator(_number_as_text, json_schema_input_type=_MemoryText | int)
]
ImageRef = Annotated[str, StringConstraints(pattern=IMAGE_PATTERN, max_length=255)]

# [ip:][hostPort:]containerPort[/proto]; IPv6 host addresses go in brackets.
PUBLISH_PATTERN = re.compile(
    r"^(?:(?P<ip>\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):)?"
    r"(?:(?P<host>\d{1,5})?:)?(?P<container>\d{1,5})(?:/(?P<proto>tcp|udp))?$"
)


def _publish_entry(entry: str) -> str:
    match = PUBLISH_PATTERN.match(entry)
    if match is None:
        raise ValueError(
            f"{entry!r} is not a port mapping: use [ip:][hostPort:]containerPort[/tcp|udp], "
            "e.g. 127.0.0.1:8080:80"
        )
    for group in ("host", "container"):
        number = match.group(group)
        if number is not None and not 1 <= int(number) <= 65535:
            raise ValueError(f"{entry!r}: port {number} is outside 1-65535")
    return entry


def _port_number_as_text(value: Any) -> Any:
    # `publish: [8080]` means what "8080" means: that container port on a random host port.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


PublishEntry = Annotated[
    str,
    AfterValidator(_publish_entry),
    BeforeValidator(_port_number_as_text, json_schema_input_type=str | int),
]


def _repo_path(value: str) -> str:
    parts = value.split("/")
    if value.startswith("/") or ".." in parts or not value.strip() or "\0" in value:
        raise ValueError(f"{value!r} must be a relative path inside the repository")
    return value


RepoPath = Annotated[str, AfterValidator(_repo_path)]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=False, frozen=True
    )


class Healthcheck(_Model):
    """How Docker decides the container is healthy: an HTTP path on `port`, or a command."""

    http: Annotated[str, StringConstraints(pattern=HTTP_PATH_PATTERN)] | None = Field(
        default=None, description="Path fetched on the app's port; healthy on a 2xx/3xx answer."
    )
    command: list[str] | None = Field(default=None, min_length=1)
    interval: Duration = "10s"
    timeout: Duration = "5s"
    retries: int = Field(default=3, ge=1, le=100)
    start_period: Duration = "0s"

    @model_validator(mode="after")
    def _exactly_one_probe(self) -> Healthcheck:
        if (self.http is None) == (self.command is None):
            raise ValueError("set exactly one of 'http' or 'command'")
        return self


class Resources(_Model):
    cpu: CpuQuantity | None = Field(default=None, description='CPUs, e.g. "1", "0.5" or "500m".')
    memory: MemoryQuantity | None = Field(default=None, description='Bytes, e.g. "512Mi", "1Gi".')


class App(_Model):
    """A containerised service with one or more identical replicas."""

    image: ImageRef
    command: list[str] | None = None
    port: int | None = Field(
        default=None, ge=1, le=65535, strict=True, description="The container port."
    )
    publish: list[PublishEntry] = Field(
        default_factory=list, description='"[ip:][hostPort:]port[/udp]"'
    )
    replicas: int = Field(default=1, ge=0, le=100, strict=True)
    env: dict[EnvKey, EnvValue] = Field(default_factory=dict)
    addons: list[Name] = Field(default_factory=list)
    depends_on: list[Name] = Field(default_factory=list)
    resources: Resources = Field(default_factory=Resources)
    healthcheck: Healthcheck | None = None
    volumes: dict[Name, Annotated[str, StringConstraints(pattern=ABSOLUTE_PATH_PATTERN)]] = Field(
        default_factory=dict, description="Named volume → absolute mount path in the container."
    )
    labels: dict[str, str] = Field(default_factory=dict)
    environment: Literal["development", "staging", "production"] = "production"
    update: Literal["rolling", "recreate"] = "rolling"
    pull: Literal["missing", "always"] = "missing"
    files: dict[Annotated[str, StringConstraints(pattern=r"^/")], RepoPath] = Field(
        default_factory=dict,
        description="Container path → repository file, mounted read-only; edits restart the app.",
    )

    @classmethod
    def _publish_format(cls, value: list[str]) -> list[str]:
        """The publish check for values outside an App (an add-on's `publish`)."""
        return [_publish_entry(entry) for entry in value]

    @field_validator("labels")
    @classmethod
    def _no_reserved_labels(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = sorted(key for key in value if key.startswith("io.reconciler."))
        if reserved:
            raise ValueError(f"label keys under io.reconciler. are reserved: {', '.join(reserved)}")
        return value


def _cron(expr: str) -> str:
    cron_fields(expr)
    return expr.strip()


Cron = Annotated[str, AfterValidator(_cron)]


def _timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"{name!r} is not a time zone name such as UTC or Europe/Berlin") from e
    return name


class PruneSettings(_Model):
    """`settings.prune` as a mapping: stack-wide housekeeping on a schedule."""

    schedule: Cron | None = Field(default=None, description="cron: apply retention, trim records.")
    objects: bool = Field(default=True, description="Remove managed objects no longer declared.")


def _as_is(value: Any) -> Any:
    return value


class Settings(_Model):
    # The mapping form is folded into `prune` and `pruneSchedule` by _prune_mapping.
    prune: Annotated[bool, BeforeValidator(_as_is, json_schema_input_type=bool | PruneSettings)] = (
        Field(default=True, description="Remove managed objects no longer declared.")
    )
    prune_schedule: Cron | None = Field(
        default=None, description="cron: apply backup retention and trim run records."
    )
    timezone: Annotated[str, AfterValidator(_timezone)] = Field(
        default="UTC", description="Time zone of backup and task schedules."
    )
    helper_image: ImageRef = Field(
        default="busybox:1.36", description="Image with sh and tar for volume backups."
    )
    self_heal: bool = Field(
        default=True, description="Repair drift (the daemon); false only reports it."
    )
    allow_mass_deletion: bool = Field(
        default=False,
        description="Allow a reconcile that deletes more than half of the managed workloads.",
    )
    images: dict[str, ImageRef] = Field(
        default_factory=dict, description="Per-engine image repository override (mirrors)."
    )

    @model_validator(mode="before")
    @classmethod
    def _prune_mapping(cls, data: Any) -> Any:
        """`prune: {schedule: ...}` (the backups issue) shares its key with `prune: true`."""
        if not isinstance(data, dict) or not isinstance(data.get("prune"), dict):
            return data
        prune = dict(data["prune"])
        unknown = sorted(set(prune) - {"schedule", "objects"})
        if unknown:
            raise ValueError(
                f"unknown key(s) under prune: {', '.join(unknown)}; allowed: objects, schedule"
            )
        folded = {k: v for k, v in data.items() if k not in ("prune", "prune_schedule")}
        return {
            **folded,
            "prune": prune.get("objects", True),
            "pruneSchedule": prune.get("schedule"),
        }


ENGINES = ("postgresql", "mysql", "mariadb", "mongodb", "redis", "valkey", "rabbitmq", "minio")


class Addon(_Model):
    """A managed service (database, cache, queue, object store) with generated credentials."""

    type: Literal[
        "postgresql", "mysql", "mariadb", "mongodb", "redis", "valkey", "rabbitmq", "minio"
    ]
    version: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")] | None = (
        Field(default=None, description="Default: the newest version the catalog knows.")
    )
    tier: Literal["starter", "standard", "premium"] = "standard"
    cpu: CpuQuantity | None = None
    memory: MemoryQuantity | None = None
    disk: MemoryQuantity | None = Field(
        default=None, description="Budget for the data volume; it can only grow."
    )
    config: dict[str, Any] = Field(default_factory=dict, description="Engine-specific settings.")
    publish: PublishEntry | None = Field(
        default=None, description='Host binding, e.g. "127.0.0.1:5432".'
    )
    replicas: int = Field(
        default=1, ge=0, le=1, strict=True, description="0 stops it and keeps its data."
    )
    deletion_policy: Literal["retain", "delete"] = "retain"
    upgrade: Literal["refuse", "dumpRestore"] = Field(
        default="refuse",
        description=(
            "What a major-version change does: refuse (with migration instructions), or "
            "dumpRestore: back up, start the new major on a fresh volume, restore, keep the old "
            "volume."
        ),
    )


class Retention(_Model):
    """Grandfather-father-son retention: the newest N, then one per day, week and month."""

    keep_last: int = Field(default=0, ge=0, le=10000)
    keep_daily: int = Field(default=0, ge=0, le=10000)
    keep_weekly: int = Field(default=0, ge=0, le=10000)
    keep_monthly: int = Field(default=0, ge=0, le=10000)

    @model_validator(mode="after")
    def _keeps_something(self) -> Retention:
        if not (self.keep_last or self.keep_daily or self.keep_weekly or self.keep_monthly):
            raise ValueError(
                "keeps no backup: use a count of at least 1, or set keepLast, keepDaily, "
                "keepWeekly or keepMonthly above 0"
            )
        return self


def _retention_count(value: Any) -> Any:
    # `retention: 14` is the common case: the newest 14.
    return {"keepLast": value} if isinstance(value, int) and not isinstance(value, bool) else value


class VolumeRef(_Model):
    app: Name
    name: Name = Field(description="A key of the app's `volumes`.")


class Backup(_Model):
    """A backup of an add-on or of an app's named volume: scheduled, retained, verified."""

    addon: Name | None = None
    volume: VolumeRef | None = None
    schedule: Cron | None = Field(
        default=None, description="cron in settings.timezone; without one, run on demand only."
    )
    retention: Annotated[
        Retention, BeforeValidator(_retention_count, json_schema_input_type=int | Retention)
    ] = Field(
        default_factory=lambda: Retention.model_validate({"keepLast": 7}),
        description="Keep the newest N, or {keepLast, keepDaily, keepWeekly, keepMonthly}.",
    )
    enabled: bool = True
    verify: bool = Field(default=False, description="Restore each backup into a throwaway copy.")
    destination: Literal["local"] = Field(
        default="local", description="Under the reconciler's state directory."
    )

    @model_validator(mode="after")
    def _one_source(self) -> Backup:
        if (self.addon is None) == (self.volume is None):
            raise ValueError("set exactly one of 'addon' or 'volume'")
        return self


class Task(_Model):
    """A one-off command in an app's image, env and network; scheduled or run on demand."""

    app: Name
    command: list[str] = Field(min_length=1)
    schedule: Cron | None = None
    timeout: Duration = "1h"
    retries: int = Field(default=0, ge=0, le=10)
    concurrency: Literal["forbid", "allow"] = "forbid"
    enabled: bool = True


class Sections(_Model):
    """The sections an included file may carry."""

    apps: dict[Name, App] = Field(default_factory=dict)
    addons: dict[Name, Addon] = Field(default_factory=dict)
    backups: dict[Name, Backup] = Field(default_factory=dict)
    tasks: dict[Name, Task] = Field(default_factory=dict)


class Stack(Sections):
    """stack.yaml: the root manifest of one stack."""

    version: Literal[1]
    stack: Name
    include: list[str] = Field(default_factory=list, description="Globs relative to the repo root.")
    settings: Settings = Field(default_factory=Settings)
