"""Pydantic models of manifest version 1: the single source of truth for format and schema."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,39}$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Duration = Annotated[str, StringConstraints(pattern=r"^(\d+(ms|s|m|h))+$")]


def _env_scalar(value: Any) -> str:
    # YAML reads `true`, `8080` and `0.5` as typed scalars; containers only ever see strings.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ValueError("must be a string, number or boolean")


EnvValue = Annotated[
    str, BeforeValidator(_env_scalar, json_schema_input_type=str | int | float | bool)
]
EnvKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
CpuQuantity = Annotated[str, StringConstraints(pattern=r"^(\d+(\.\d+)?|\d+m)$")]
MemoryQuantity = Annotated[str, StringConstraints(pattern=r"^\d+(Ki|Mi|Gi|Ti|k|K|M|G|T)?$")]
ImageRef = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$", max_length=255)
]

# [ip:][hostPort:]containerPort[/proto]; IPv6 host addresses go in brackets.
PUBLISH_PATTERN = re.compile(
    r"^(?:(?P<ip>\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):)?"
    r"(?:(?P<host>\d{1,5})?:)?(?P<container>\d{1,5})(?:/(?P<proto>tcp|udp))?$"
)


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


class Healthcheck(_Model):
    """How Docker decides the container is healthy: an HTTP path on `port`, or a command."""

    http: Annotated[str, StringConstraints(pattern=r"^/\S*$")] | None = Field(
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
    port: int | None = Field(default=None, ge=1, le=65535, description="The container port.")
    publish: list[str] = Field(default_factory=list, description='"[ip:][hostPort:]port[/udp]"')
    replicas: int = Field(default=1, ge=0, le=100)
    env: dict[EnvKey, EnvValue] = Field(default_factory=dict)
    addons: list[Name] = Field(default_factory=list)
    depends_on: list[Name] = Field(default_factory=list)
    resources: Resources = Field(default_factory=Resources)
    healthcheck: Healthcheck | None = None
    volumes: dict[Name, Annotated[str, StringConstraints(pattern=r"^/")]] = Field(
        default_factory=dict, description="Named volume → absolute mount path in the container."
    )
    labels: dict[str, str] = Field(default_factory=dict)
    environment: Literal["development", "staging", "production"] = "production"
    update: Literal["rolling", "recreate"] = "rolling"
    pull: Literal["missing", "always"] = "missing"

    @field_validator("publish")
    @classmethod
    def _publish_format(cls, value: list[str]) -> list[str]:
        for entry in value:
            match = PUBLISH_PATTERN.match(entry)
            if match is None:
                raise ValueError(f"{entry!r} is not [ip:][hostPort:]containerPort[/tcp|udp]")
            for group in ("host", "container"):
                number = match.group(group)
                if number is not None and not 1 <= int(number) <= 65535:
                    raise ValueError(f"{entry!r}: port {number} is outside 1-65535")
        return value

    @field_validator("labels")
    @classmethod
    def _no_reserved_labels(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = sorted(key for key in value if key.startswith("io.reconciler."))
        if reserved:
            raise ValueError(f"label keys under io.reconciler. are reserved: {', '.join(reserved)}")
        return value


class Settings(_Model):
    prune: bool = Field(default=True, description="Remove managed objects no longer declared.")
    images: dict[str, ImageRef] = Field(
        default_factory=dict, description="Per-engine image repository override (mirrors)."
    )


class Sections(_Model):
    """The sections an included file may carry."""

    apps: dict[Name, App] = Field(default_factory=dict)
    addons: dict[Name, dict[str, Any]] = Field(default_factory=dict)
    backups: dict[Name, dict[str, Any]] = Field(default_factory=dict)


class Stack(Sections):
    """stack.yaml: the root manifest of one stack."""

    version: Literal[1]
    stack: Name
    include: list[str] = Field(default_factory=list, description="Globs relative to the repo root.")
    settings: Settings = Field(default_factory=Settings)
