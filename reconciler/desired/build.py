"""Turn a validated Stack into the DesiredStack: container specs per replica, names, hashes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

from reconciler.desired.ordering import dependency_order
from reconciler.desired.units import memory_bytes, nano_cpus, port_binding, seconds
from reconciler.manifests.models import App, Healthcheck, Stack
from reconciler.state.model import (
    ContainerSpec,
    DesiredStack,
    HealthSpec,
    Kind,
    PullPolicy,
    UpdateStrategy,
    VolumeMount,
    Workload,
)

ENVIRONMENT_LABEL = "io.reconciler.environment"


def network_name(stack: str) -> str:
    return f"{stack}-net"


def volume_name(stack: str, owner: str, volume: str) -> str:
    return f"{stack}-{owner}-{volume}"


def build_desired(stack: Stack, revision: str = "local") -> DesiredStack:
    workloads = {name: _app_workload(stack.stack, name, app) for name, app in stack.apps.items()}
    order = dependency_order({name: app.depends_on for name, app in stack.apps.items()})
    volumes = sorted(
        volume_name(stack.stack, name, volume)
        for name, app in stack.apps.items()
        for volume in app.volumes
    )
    return DesiredStack(
        stack=stack.stack,
        revision=revision,
        network=network_name(stack.stack),
        volumes=tuple(volumes),
        workloads=tuple(workloads[name] for name in order),
        prune=stack.settings.prune,
    )


def spec_hash(doc: dict[str, Any]) -> str:
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _app_workload(stack: str, name: str, app: App) -> Workload:
    template = ContainerSpec(
        stack=stack,
        kind=Kind.APP,
        owner=name,
        replica=1,
        image=app.image,
        command=tuple(app.command) if app.command is not None else None,
        env=tuple(sorted(app.env.items())),
        ports=tuple(port_binding(entry) for entry in app.publish),
        volumes=tuple(
            VolumeMount(volume_name(stack, name, volume), target)
            for volume, target in sorted(app.volumes.items())
        ),
        user_labels=tuple(sorted({**app.labels, ENVIRONMENT_LABEL: app.environment}.items())),
        nano_cpus=nano_cpus(app.resources.cpu) if app.resources.cpu else None,
        memory_bytes=memory_bytes(app.resources.memory) if app.resources.memory else None,
        healthcheck=_health(app.healthcheck, app.port) if app.healthcheck else None,
        network=network_name(stack),
        alias=name,
        pull=PullPolicy(app.pull),
    )
    doc = spec_document(template)
    replicas = tuple(_replica(template, n) for n in range(1, app.replicas + 1))
    return Workload(
        kind=Kind.APP,
        name=name,
        replicas=replicas,
        spec_hash=spec_hash(doc),
        spec_doc=doc,
        depends_on=tuple(app.depends_on),
        update=UpdateStrategy(app.update),
    )


def _replica(template: ContainerSpec, n: int) -> ContainerSpec:
    return replace(template, replica=n)


def _health(check: Healthcheck, port: int | None) -> HealthSpec:
    if check.http is not None:
        url = f"http://127.0.0.1:{port}{check.http}"
        # The probe runs inside the container: use whichever HTTP client the image ships.
        probe = f"wget -q -O /dev/null {url} || curl -fsS -o /dev/null {url} || exit 1"
        test: tuple[str, ...] = ("CMD-SHELL", probe)
    else:
        test = ("CMD", *(check.command or ()))
    return HealthSpec(
        test=test,
        interval=seconds(check.interval),
        timeout=seconds(check.timeout),
        retries=check.retries,
        start_period=seconds(check.start_period),
    )


def spec_document(spec: ContainerSpec) -> dict[str, Any]:
    """The normalized, JSON-able form of a spec: what is hashed, labelled and diffed by field."""
    return {
        "image": spec.image,
        "command": list(spec.command) if spec.command is not None else None,
        "env": {k: ("***" if k in spec.secret_env else v) for k, v in spec.env},
        "ports": sorted(binding.render() for binding in spec.ports),
        "volumes": {m.volume: m.target + (":ro" if m.read_only else "") for m in spec.volumes},
        "labels": dict(spec.user_labels),
        "cpu": spec.nano_cpus,
        "memory": spec.memory_bytes,
        "healthcheck": (
            {
                "test": list(spec.healthcheck.test),
                "interval": spec.healthcheck.interval,
                "timeout": spec.healthcheck.timeout,
                "retries": spec.healthcheck.retries,
                "startPeriod": spec.healthcheck.start_period,
            }
            if spec.healthcheck
            else None
        ),
        "pull": spec.pull.value,
    }
