"""The catalog: engine name → entry; config validation and server arguments per engine."""

from __future__ import annotations

import re
from typing import Any

from reconciler.addons.engines import minio, mongodb, mysql, postgresql, rabbitmq, redis
from reconciler.addons.spec import ConfigKey, ConfigType, Engine

CATALOG: dict[str, Engine] = {
    engine.name: engine
    for engine in (
        postgresql.ENGINE,
        mysql.MYSQL,
        mysql.MARIADB,
        mongodb.ENGINE,
        redis.REDIS,
        redis.VALKEY,
        rabbitmq.ENGINE,
        minio.ENGINE,
    )
}

_SIZE = re.compile(r"^\d+(\.\d+)?\s*([kKmMgGtT][bB]?|[kKmMgG]i[bB]?)?$")

#: Presets: (cpu, memory, disk). Explicit cpu/memory/disk on the add-on override them.
TIERS: dict[str, tuple[str, str, str]] = {
    "starter": ("0.5", "512Mi", "5Gi"),
    "standard": ("1", "2Gi", "20Gi"),
    "premium": ("2", "4Gi", "100Gi"),
}


def check_config(engine: Engine, config: dict[str, Any]) -> list[tuple[str, str]]:
    """Problems as (key, message); an unknown key names every key the engine allows."""
    problems: list[tuple[str, str]] = []
    allowed = ", ".join(sorted(engine.config)) or "none"
    for key, value in config.items():
        spec = engine.config.get(key)
        if spec is None:
            problems.append((key, f"unknown {engine.name} config key; allowed: {allowed}"))
            continue
        message = _type_problem(spec, value)
        if message:
            problems.append((key, message))
    return problems


def _type_problem(spec: ConfigKey, value: Any) -> str | None:
    if spec.type is ConfigType.BOOL:
        return None if isinstance(value, bool) else "must be true or false"
    if spec.type is ConfigType.CHOICE:
        return None if value in spec.choices else f"must be one of: {', '.join(spec.choices)}"
    if spec.type is ConfigType.SIZE:
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and _SIZE.match(value)
        )
        return None if ok else "must be a size such as 512MB or 1GB"
    if spec.type is ConfigType.STRING:
        ok = isinstance(value, str) and bool(re.fullmatch(r"[A-Za-z0-9_.:/-]+", value))
        return None if ok else "must be a plain word (letters, digits, _ . : / -)"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a{'n integer' if spec.type is ConfigType.INT else ' number'}"
    if spec.type is ConfigType.INT and not isinstance(value, int):
        return "must be an integer"
    if spec.minimum is not None and value < spec.minimum:
        return f"must be at least {spec.minimum:g}"
    return None


def render_value(spec: ConfigKey, value: Any) -> str:
    if spec.type is ConfigType.BOOL:
        return ("yes" if value else "no") if spec.flag else ("on" if value else "off")
    return str(value)


def server_arguments(engine: Engine, config: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """Command-line flags and environment variables that carry a validated `config`."""
    flags: list[str] = []
    env: dict[str, str] = {}
    for key in sorted(config):
        spec = engine.config[key]
        value = render_value(spec, config[key])
        if spec.env:
            env[spec.env] = value
        else:
            flags.extend(part.format(value=value) for part in spec.flag)
    return flags, env
