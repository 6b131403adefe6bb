"""Resource usage from the engine's stats samples, as {usage, limit, percentage} objects (pure).

CPU is in cores, memory, network and disk in bytes. A limit is what the container may use: its
declared CPU or memory, else what the host has; network has no limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

NANOS = 1_000_000_000


def _percentage(usage: float | None, limit: float | None) -> float | None:
    if usage is None or not limit:
        return None
    return round(usage / limit * 100.0, 4)


def measure(usage: float | None, limit: float | None, unit: str, **extra: Any) -> dict[str, Any]:
    return {
        "usage": usage,
        "limit": limit,
        "percentage": _percentage(usage, limit),
        "unit": unit,
        **extra,
    }


def _number(mapping: Mapping[str, Any], *path: str) -> float:
    value: Any = mapping
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return float(value) if isinstance(value, int | float) else 0.0


def cpu(sample: Mapping[str, Any], nano_cpus: int | None) -> dict[str, Any]:
    """Cores used between the sample's two readings, against the declared CPUs or the host's."""
    now, before = sample.get("cpu_stats") or {}, sample.get("precpu_stats") or {}
    used = _number(now, "cpu_usage", "total_usage") - _number(before, "cpu_usage", "total_usage")
    system = _number(now, "system_cpu_usage") - _number(before, "system_cpu_usage")
    online = _number(now, "online_cpus") or float(
        len((now.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    )
    cores = round(used / system * online, 4) if system > 0 and used >= 0 else 0.0
    limit = nano_cpus / NANOS if nano_cpus else online
    return measure(cores, limit, "cores")


def memory(sample: Mapping[str, Any]) -> dict[str, Any]:
    """Memory in use less the reclaimable page cache, as `docker stats` counts it."""
    stats = sample.get("memory_stats") or {}
    detail = stats.get("stats") or {}
    cache = (
        detail.get("total_inactive_file")  # cgroup v1
        or detail.get("inactive_file")  # cgroup v2
        or detail.get("cache")
        or 0
    )
    usage = max(_number(stats, "usage") - float(cache), 0.0)
    limit = _number(stats, "limit") or None
    return measure(int(usage), int(limit) if limit else None, "bytes")


def network(sample: Mapping[str, Any]) -> dict[str, Any]:
    interfaces = sample.get("networks") or {}
    received = sum(int(_number(i, "rx_bytes")) for i in interfaces.values())
    sent = sum(int(_number(i, "tx_bytes")) for i in interfaces.values())
    return measure(received + sent, None, "bytes", rxBytes=received, txBytes=sent)


def container_usage(name: str, sample: Mapping[str, Any], nano_cpus: int | None) -> dict[str, Any]:
    return {
        "name": name,
        "cpu": cpu(sample, nano_cpus),
        "memory": memory(sample),
        "network": network(sample),
    }


def total(
    parts: Sequence[Mapping[str, Any]], key: str, declared: float | None = None
) -> dict[str, Any]:
    """One measure summed over containers.

    The limit is the declared per-container limit times the containers; without one, every
    container may use the whole host, so the host's capacity is the limit of all of them.
    """
    measures = [p[key] for p in parts]
    unit = measures[0]["unit"] if measures else ("cores" if key == "cpu" else "bytes")
    if unit == "cores":
        usage: float = round(sum(float(m["usage"] or 0.0) for m in measures), 4)
    else:
        usage = sum(int(m["usage"] or 0) for m in measures)
    limits = [m["limit"] for m in measures if m["limit"] is not None]
    limit = declared * len(measures) if declared and measures else max(limits, default=None)
    extra = {}
    if key == "network":
        extra = {k: sum(m.get(k, 0) for m in measures) for k in ("rxBytes", "txBytes")}
    return measure(usage, limit, unit, **extra)


def disk(used: int | None, declared: int | None, volume: str) -> dict[str, Any]:
    """The data volume's size against the declared disk; usage None when the engine cannot say."""
    return measure(used, declared, "bytes", volume=volume, known=used is not None)
