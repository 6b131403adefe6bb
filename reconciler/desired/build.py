"""Turn a validated Stack into the DesiredStack: container specs per replica, names, hashes."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace
from typing import Any

from reconciler.addons.spec import Credentials
from reconciler.desired.addons import AddonPlan, connection_env, resolve_addon
from reconciler.desired.files import repo_files
from reconciler.desired.inputs import BuildInputs, UnresolvedReference, resolve_references
from reconciler.desired.ordering import dependency_order
from reconciler.desired.units import memory_bytes, nano_cpus, port_binding, seconds
from reconciler.manifests.models import App, Healthcheck, Stack
from reconciler.manifests.yamlread import ParsedFile
from reconciler.state.errors import ManifestErrors, ManifestIssue, PlanError
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
Origins = dict[tuple[str, str], ParsedFile]


def network_name(stack: str) -> str:
    return f"{stack}-net"


def volume_name(stack: str, owner: str, volume: str) -> str:
    return f"{stack}-{owner}-{volume}"


def build_desired(
    stack: Stack,
    revision: str = "local",
    inputs: BuildInputs | None = None,
    origins: Origins | None = None,
) -> DesiredStack:
    """The desired state of `stack`; unresolved ${secret:..}/${env:..} raise located errors."""
    if stack.addons and inputs is None:
        raise PlanError("add-ons need a credential store to build their desired state")
    addons = {
        name: resolve_addon(stack.stack, name, addon, stack.settings.images, inputs)
        for name, addon in stack.addons.items()
        if inputs is not None
    }
    issues: list[ManifestIssue] = []
    workloads = {
        name: _app_workload(stack.stack, name, app, addons, inputs, issues, origins)
        for name, app in stack.apps.items()
    }
    if issues:
        raise ManifestErrors(issues)
    for name, plan in addons.items():
        replicas = stack.addons[name].replicas
        # Two servers must never open one data directory: stop the old before the new starts.
        workloads[name] = replace(
            _workload(
                Kind.ADDON, name, plan.template, replicas, (), inputs, UpdateStrategy.RECREATE
            ),
            disk_bytes=plan.disk_bytes,
            upgrade=stack.addons[name].upgrade,
        )
    graph = {name: app.depends_on + app.addons for name, app in stack.apps.items()}
    graph.update({name: [] for name in addons})
    # Declared volumes exist even at replicas: 0, so stopping a workload never loses data.
    volumes = sorted(
        {volume_name(stack.stack, n, v) for n, app in stack.apps.items() for v in app.volumes}
        | {mount.volume for plan in addons.values() for mount in plan.template.volumes}
    )
    return DesiredStack(
        stack=stack.stack,
        revision=revision,
        network=network_name(stack.stack),
        volumes=tuple(volumes),
        workloads=tuple(workloads[name] for name in dependency_order(graph)),
        prune=stack.settings.prune,
        self_heal=stack.settings.self_heal,
        allow_mass_deletion=stack.settings.allow_mass_deletion,
    )


def spec_hash(doc: dict[str, Any], secret_digest: str = "") -> str:
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":")) + secret_digest
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _secret_digest(spec: ContainerSpec, inputs: BuildInputs | None) -> str:
    """A keyed digest of secret values: rotating a secret changes the hash, revealing nothing."""
    values = [f"{k}={v}" for k, v in spec.env if k in spec.secret_env]
    if not values:
        return ""
    key = inputs.hash_key() if inputs is not None else b""
    return hmac.new(key, "\0".join(values).encode(), hashlib.sha256).hexdigest()


def _workload(
    kind: Kind,
    name: str,
    template: ContainerSpec,
    replicas: int,
    depends_on: tuple[str, ...],
    inputs: BuildInputs | None,
    update: UpdateStrategy = UpdateStrategy.ROLLING,
) -> Workload:
    doc = spec_document(template)
    digest = _secret_digest(template, inputs)
    return Workload(
        kind=kind,
        name=name,
        replicas=tuple(_replica(template, n) for n in range(1, replicas + 1)),
        spec_hash=spec_hash(doc, digest),
        spec_doc=doc,
        depends_on=depends_on,
        update=update,
        secret_digest=digest,
    )


def _app_env(
    name: str,
    app: App,
    addons: dict[str, AddonPlan],
    inputs: BuildInputs | None,
    issues: list[ManifestIssue],
    origins: Origins | None,
) -> tuple[dict[str, str], frozenset[str]]:
    env, secret = connection_env([addons[a] for a in app.addons if a in addons])
    secret_keys = set(secret)
    for key, value in app.env.items():
        try:
            env[key], is_secret = resolve_references(value, inputs or BuildInputs(NoCredentials()))
        except UnresolvedReference as e:
            source = origins.get(("apps", name)) if origins else None
            if source is not None:
                issues.append(source.issue(("apps", name, "env", key), str(e)))
            else:
                issues.append(ManifestIssue("stack.yaml", 1, 1, f"apps.{name}.env.{key}", str(e)))
            continue
        if is_secret:
            secret_keys.add(key)
        else:
            secret_keys.discard(key)
    return env, frozenset(secret_keys)


def _app_workload(
    stack: str,
    name: str,
    app: App,
    addons: dict[str, AddonPlan],
    inputs: BuildInputs | None,
    issues: list[ManifestIssue],
    origins: Origins | None,
) -> Workload:
    env, secret_env = _app_env(name, app, addons, inputs, issues, origins)
    files = repo_files(name, app, inputs, issues, origins)
    template = ContainerSpec(
        stack=stack,
        kind=Kind.APP,
        owner=name,
        replica=1,
        image=app.image,
        command=tuple(app.command) if app.command is not None else None,
        env=tuple(sorted(env.items())),
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
        secret_env=secret_env,
        files=files,
    )
    depends = tuple(dict.fromkeys([*app.depends_on, *app.addons]))
    return _workload(
        Kind.APP, name, template, app.replicas, depends, inputs, UpdateStrategy(app.update)
    )


class NoCredentials:
    """Stands in where no add-on is declared, so no credential can ever be asked for."""

    def credentials(self, stack: str, addon: str, user: str, database: str) -> Credentials:
        raise PlanError(f"no credential store to create credentials for add-on {addon}")


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
        "files": {mount.target: mount.digest for mount in spec.files},
        **({"hostname": spec.hostname} if spec.hostname else {}),
    }
