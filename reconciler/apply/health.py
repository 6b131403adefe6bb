"""Wait for a started container to be running and, where it has a healthcheck, healthy."""

from __future__ import annotations

import time

from reconciler.observed.port import DockerPort
from reconciler.state.errors import ReconcilerError
from reconciler.state.model import ContainerSpec

MAX_WAIT_SECONDS = 300.0
LOG_TAIL_LINES = 5


class UnhealthyError(ReconcilerError):
    """A new container exited or failed its healthcheck."""


def health_deadline(spec: ContainerSpec) -> float:
    """How long Docker can take to call a container healthy or unhealthy, plus some slack."""
    check = spec.healthcheck
    if check is None:
        return 10.0
    budget = check.start_period + (check.interval + check.timeout) * (check.retries + 1) + 5
    return min(budget, MAX_WAIT_SECONDS)


def wait_healthy(
    port: DockerPort, name: str, spec: ContainerSpec, settle_seconds: float = 0.0
) -> None:
    """Return once `name` is running (and healthy); raise UnhealthyError with the evidence.

    Without a healthcheck, "running" is all there is to see; `settle_seconds` then asks it to
    still be running a moment later, which catches a new version that crashes on start.
    """
    _wait_running(port, name, spec)
    if spec.healthcheck is None and settle_seconds > 0:
        time.sleep(settle_seconds)
        state = port.container_state(name)
        if state.status != "running":
            raise UnhealthyError(
                f"{name} stopped within {settle_seconds:.0f}s of starting "
                f"(exit code {state.exit_code}){_evidence(port, name, state.error)}"
            )


def _wait_running(port: DockerPort, name: str, spec: ContainerSpec) -> None:
    deadline = time.monotonic() + health_deadline(spec)
    delay = 0.1
    while True:
        state = port.container_state(name)
        if state.status in ("exited", "dead") or (state.status == "restarting" and state.exit_code):
            reason = (
                "killed: out of memory"
                if state.oom_killed
                else f"exited with code {state.exit_code}"
            )
            raise UnhealthyError(f"{name} {reason}{_evidence(port, name, state.error)}")
        if state.health == "unhealthy":
            probe = f"; last probe: {state.last_probe_output}" if state.last_probe_output else ""
            raise UnhealthyError(f"{name} failed its healthcheck{probe}{_evidence(port, name, '')}")
        if state.status == "running" and state.health in (None, "healthy"):
            return
        if time.monotonic() > deadline:
            raise UnhealthyError(
                f"{name} not healthy after {health_deadline(spec):.0f}s (status {state.status}, "
                f"health {state.health}){_evidence(port, name, '')}"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)


def _evidence(port: DockerPort, name: str, error: str) -> str:
    parts = [f"error: {error}"] if error else []
    try:
        tail = port.logs_tail(name, LOG_TAIL_LINES).strip()
    except ReconcilerError:
        tail = ""
    if tail:
        parts.append("last log lines: " + " | ".join(tail.splitlines()[-LOG_TAIL_LINES:]))
    return "; " + "; ".join(parts) if parts else ""
