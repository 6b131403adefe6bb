"""The human units of manifests: CPU and memory quantities, durations, published ports."""

from __future__ import annotations

import pytest

from reconciler.desired.units import memory_bytes, nano_cpus, port_binding, seconds
from reconciler.state.model import PortBinding


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("1", 1_000_000_000),
        ("2", 2_000_000_000),
        ("0.5", 500_000_000),
        ("1.5", 1_500_000_000),
        ("0.25", 250_000_000),
        ("500m", 500_000_000),
        ("250m", 250_000_000),
        ("2000m", 2_000_000_000),
        ("1m", 1_000_000),
    ],
)
def test_nano_cpus(quantity: str, expected: int) -> None:
    assert nano_cpus(quantity) == expected


def test_equivalent_cpu_quantities_agree() -> None:
    assert nano_cpus("0.5") == nano_cpus("500m")
    assert nano_cpus("0.1") == nano_cpus("100m")  # no float residue


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("0", 0),
        ("1024", 1024),
        ("1k", 1000),
        ("1K", 1000),
        ("64M", 64_000_000),
        ("2G", 2_000_000_000),
        ("1T", 1_000_000_000_000),
        ("1Ki", 1024),
        ("512Mi", 536_870_912),
        ("1Gi", 1_073_741_824),
        ("1Ti", 1024**4),
    ],
)
def test_memory_bytes(quantity: str, expected: int) -> None:
    assert memory_bytes(quantity) == expected


@pytest.mark.parametrize("quantity", ["", "Mi", "1.5Gi", "1Pi", "1mi", "-1", "1 Gi", "lots"])
def test_memory_bytes_rejects(quantity: str) -> None:
    with pytest.raises(ValueError, match="not a memory quantity"):
        memory_bytes(quantity)


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        ("0s", 0.0),
        ("1s", 1.0),
        ("10s", 10.0),
        ("500ms", 0.5),
        ("1m", 60.0),
        ("1m30s", 90.0),
        ("2h", 7200.0),
        ("1h1m1s1ms", 3661.001),
        ("90s", 90.0),
    ],
)
def test_seconds(duration: str, expected: float) -> None:
    assert seconds(duration) == pytest.approx(expected)
    assert isinstance(seconds(duration), float)


def test_seconds_reads_ms_before_m() -> None:
    assert seconds("5ms") == pytest.approx(0.005)
    assert seconds("5m") == 300.0


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("8080", PortBinding("0.0.0.0", None, 8080, "tcp")),
        ("8080:80", PortBinding("0.0.0.0", 8080, 80, "tcp")),
        ("8080:80/udp", PortBinding("0.0.0.0", 8080, 80, "udp")),
        ("127.0.0.1:8080:80", PortBinding("127.0.0.1", 8080, 80, "tcp")),
        ("127.0.0.1::80", PortBinding("127.0.0.1", None, 80, "tcp")),
        # An address and one port: that container port on a random host port of the address.
        ("127.0.0.1:8080", PortBinding("127.0.0.1", None, 8080, "tcp")),
        ("[::1]:8080:80", PortBinding("::1", 8080, 80, "tcp")),
        ("53/udp", PortBinding("0.0.0.0", None, 53, "udp")),
    ],
)
def test_port_binding(entry: str, expected: PortBinding) -> None:
    assert port_binding(entry) == expected


@pytest.mark.parametrize(
    "entry", ["", "80:tcp", "8080:80:tcp", "localhost:8080:80", "8080-8090:80", "80/sctp", "a:b"]
)
def test_port_binding_rejects(entry: str) -> None:
    with pytest.raises(ValueError, match="not a port binding"):
        port_binding(entry)


@pytest.mark.parametrize(
    ("binding", "text"),
    [
        (PortBinding("127.0.0.1", 8080, 80), "127.0.0.1:8080:80/tcp"),
        (PortBinding("0.0.0.0", None, 53, "udp"), "0.0.0.0:53/udp"),
    ],
)
def test_port_binding_render(binding: PortBinding, text: str) -> None:
    assert binding.render() == text
