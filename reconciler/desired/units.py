"""Parse the human units of manifests: CPU and memory quantities, durations, published ports."""

from __future__ import annotations

import re

from reconciler.manifests.models import PUBLISH_PATTERN
from reconciler.state.model import PortBinding

_MEMORY_FACTORS = {
    "": 1,
    "k": 1000,
    "K": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
}
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h)")
_DURATION_FACTORS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def nano_cpus(quantity: str) -> int:
    """'500m' → 500_000_000; '1.5' → 1_500_000_000 (Docker's NanoCpus)."""
    if quantity.endswith("m"):
        return int(quantity[:-1]) * 1_000_000
    return round(float(quantity) * 1_000_000_000)


def memory_bytes(quantity: str) -> int:
    """'512Mi' → 536_870_912; '64M' → 64_000_000; '1024' → 1024."""
    match = re.fullmatch(r"(\d+)([A-Za-z]*)", quantity)
    if match is None or match.group(2) not in _MEMORY_FACTORS:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return int(match.group(1)) * _MEMORY_FACTORS[match.group(2)]


def seconds(duration: str) -> float:
    """'1m30s' → 90.0; '500ms' → 0.5. Text that holds no duration counts as 0 (manifests are
    validated before; `reconciler run --interval` relies on the 0 to refuse the value)."""
    return float(sum(int(n) * _DURATION_FACTORS[u] for n, u in _DURATION_PART.findall(duration)))


def port_binding(entry: str) -> PortBinding:
    match = PUBLISH_PATTERN.match(entry)
    if match is None:
        raise ValueError(f"not a port binding: {entry!r}")
    host = match.group("host")
    return PortBinding(
        host_ip=(match.group("ip") or "0.0.0.0").strip("[]"),
        host_port=int(host) if host else None,
        container_port=int(match.group("container")),
        protocol=match.group("proto") or "tcp",
    )
