"""Add-on workloads from the catalog, and the connection variables injected into apps."""

from __future__ import annotations

import json
from dataclasses import dataclass

from reconciler.addons.catalog import CATALOG, TIERS, server_arguments
from reconciler.addons.spec import Connection, Engine
from reconciler.desired.inputs import BuildInputs
from reconciler.desired.units import memory_bytes, nano_cpus, port_binding
from reconciler.manifests.models import Addon
from reconciler.state import labels
from reconciler.state.model import ContainerSpec, HealthSpec, Kind, VolumeMount

DATA_VOLUME = "data"


def _health(test: tuple[str, ...]) -> HealthSpec:
    # Generous retries: a first start initialises the data directory, which can take a while.
    return HealthSpec(test=test, interval=2.0, timeout=5.0, retries=60, start_period=2.0)


@dataclass(frozen=True)
class AddonPlan:
    """One add-on resolved against the catalog: its container template and its connection."""

    name: str
    engine: Engine
    version: str
    template: ContainerSpec
    connection: Connection
    disk_bytes: int


def resolve_addon(
    stack: str, name: str, addon: Addon, images: dict[str, str], inputs: BuildInputs
) -> AddonPlan:
    engine = CATALOG[addon.type]
    version = addon.version or engine.default_version
    creds = inputs.credentials.credentials(stack, name, engine.default_user, "app")
    cpu, memory, disk = TIERS[addon.tier]
    flags, config_env = server_arguments(engine, addon.config)
    command = (*engine.command, *flags) if (engine.command or flags) else None
    env = {**engine.bootstrap_env(creds), **config_env}
    publish = port_binding(addon.publish) if addon.publish else None
    if publish is not None:  # the add-on's port is fixed by its engine, not by the binding
        publish = type(publish)(publish.host_ip, publish.host_port, engine.port, publish.protocol)
    check = engine.healthcheck
    template = ContainerSpec(
        stack=stack,
        kind=Kind.ADDON,
        owner=name,
        replica=1,
        image=engine.image(version, images.get(engine.name)),
        command=command,
        env=tuple(sorted(env.items())),
        ports=(publish,) if publish else (),
        volumes=(VolumeMount(f"{stack}-{name}-{DATA_VOLUME}", engine.data_path),),
        user_labels=(
            (labels.DELETION_POLICY, addon.deletion_policy),
            (labels.ENGINE, engine.name),
            (labels.VERSION, version),
        ),
        nano_cpus=nano_cpus(addon.cpu or cpu),
        memory_bytes=memory_bytes(addon.memory or memory),
        healthcheck=_health(check) if check else None,
        network=f"{stack}-net",
        alias=name,
        secret_env=frozenset(engine.secret_env),
        hostname=name,
    )
    connection = engine.connection(creds, name)
    return AddonPlan(name, engine, version, template, connection, memory_bytes(addon.disk or disk))


def connection_env(plans: list[AddonPlan]) -> tuple[dict[str, str], frozenset[str]]:
    """DB_URL, DB_HOST, ... per connected add-on, RECONCILER_SERVICES, and which are secret."""
    env: dict[str, str] = {}
    secret: set[str] = set()
    services: dict[str, dict[str, object]] = {}
    for plan in plans:
        prefix = plan.name.upper().replace("-", "_")
        conn = plan.connection
        fields = {
            "URL": conn.url,
            "HOST": conn.host,
            "PORT": str(conn.port),
            "USER": conn.user,
            "PASSWORD": conn.password,
            "NAME": conn.database,
        }
        for key, value in fields.items():
            if value is not None:
                env[f"{prefix}_{key}"] = value
        secret.update({f"{prefix}_URL", f"{prefix}_PASSWORD"})
        services[plan.name] = {
            "type": plan.engine.name,
            "version": plan.version,
            **{k.lower(): v for k, v in fields.items() if v is not None},
        }
        services[plan.name]["port"] = conn.port
    if plans:
        env["RECONCILER_SERVICES"] = json.dumps(services, sort_keys=True, separators=(",", ":"))
        secret.add("RECONCILER_SERVICES")
    return env, frozenset(secret)
