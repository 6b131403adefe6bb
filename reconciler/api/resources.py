"""App and add-on objects and their status, shaped for the API from desired and live state (pure).

Objects never carry environment values: secrets live there, and git already has the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.addons.catalog import TIERS
from reconciler.desired.addons import DATA_VOLUME
from reconciler.desired.datavolume import bind_data_volumes
from reconciler.desired.units import memory_bytes
from reconciler.manifests.models import Stack
from reconciler.plan.status import status_rows
from reconciler.state.model import DesiredStack, LiveContainer, Observed, Workload

STATES = ("pending", "starting", "running", "degraded", "failed", "stopped", "orphaned")
HEALTH = ("healthy", "starting", "unhealthy", "unknown")


def build_objects(
    desired: DesiredStack, manifests: Stack, containers: tuple[LiveContainer, ...]
) -> dict[str, dict[str, dict[str, Any]]]:
    """{"app": {name: object}, "addon": {name: object}} for every declared or orphaned workload."""
    objects: dict[str, dict[str, dict[str, Any]]] = {"app": {}, "addon": {}}
    # An add-on upgraded by dump and restore runs on its major's volume: compare against that.
    desired = bind_data_volumes(desired, Observed(containers=containers))
    for row in status_rows(desired, Observed(containers=containers)):
        kind, name = row["kind"], row["name"]
        if kind not in objects:
            continue
        workload = desired.workload(name) if row.get("sync") != "orphan" else None
        base = _base(row, workload)
        if kind == "app":
            objects[kind][name] = {**base, **_app_fields(name, workload, manifests)}
        else:
            fields = _addon_fields(desired.stack, name, manifests)
            objects[kind][name] = {**base, **fields, "volume": _bound_volume(workload, fields)}
    return objects


def _base(row: Mapping[str, Any], workload: Workload | None) -> dict[str, Any]:
    status = workload_status(row, workload is not None)
    doc = workload.spec_doc if workload is not None else {}
    return {
        "name": row["name"],
        "kind": row["kind"],
        "declared": workload is not None,
        "status": status["state"],
        "health": status["health"],
        "sync": status["sync"],
        "message": status["message"],
        "image": doc.get("image"),
        "replicas": row["replicas"],
        "readyReplicas": row["readyReplicas"],
        "revision": status["revision"],
        "specHash": workload.spec_hash if workload is not None else None,
        "containers": status["containers"],
    }


def _app_fields(name: str, workload: Workload | None, manifests: Stack) -> dict[str, Any]:
    app = manifests.apps.get(name)
    if app is None or workload is None:
        return {"environment": None, "type": "app"}
    return {
        "type": "app",
        "environment": app.environment,
        "command": app.command,
        "port": app.port,
        "publish": list(app.publish),
        "resources": {"cpu": app.resources.cpu, "memory": app.resources.memory},
        "addons": list(app.addons),
        "dependsOn": list(app.depends_on),
        "volumes": dict(app.volumes),
        "files": sorted(app.files),
        "labels": dict(app.labels),
        "update": app.update,
        "pull": app.pull,
        "healthcheck": app.healthcheck is not None,
    }


def _addon_fields(stack: str, name: str, manifests: Stack) -> dict[str, Any]:
    addon = manifests.addons.get(name)
    if addon is None:
        return {"type": None, "environment": None}
    cpu, memory, disk = TIERS[addon.tier]
    return {
        "type": addon.type,
        "environment": None,
        "version": addon.version,
        "tier": addon.tier,
        "cpu": addon.cpu or cpu,
        "memory": addon.memory or memory,
        "disk": addon.disk or disk,
        "diskBytes": memory_bytes(addon.disk or disk),
        "publish": addon.publish,
        "deletionPolicy": addon.deletion_policy,
        "volume": data_volume(stack, name),
        "config": dict(addon.config),
        "connectedApps": sorted(n for n, app in manifests.apps.items() if name in app.addons),
    }


def data_volume(stack: str, addon: str) -> str:
    return f"{stack}-{addon}-{DATA_VOLUME}"


def _bound_volume(workload: Workload | None, fields: Mapping[str, Any]) -> str:
    """The data volume the add-on really mounts: after a dump-and-restore upgrade that is its
    major's `...-data-NN` (the bound spec says so), not the first `...-data`."""
    first = str(fields["volume"])
    for spec in workload.replicas if workload is not None else ():
        for mount in spec.volumes:
            if mount.volume.startswith(first):
                return mount.volume
    return first


def workload_status(row: Mapping[str, Any], declared: bool) -> dict[str, Any]:
    """{state, message, replicas, readyReplicas, health, revision, ...} from a status row."""
    containers = [dict(c) for c in row["containers"]]
    wanted, ready = int(row["replicas"]), int(row["readyReplicas"])
    state, message = _state(containers, wanted, ready, declared)
    revisions = row["revision"] if isinstance(row["revision"], list) else [row["revision"]]
    return {
        "state": state,
        "message": message + ("" if row.get("sync") != "outOfSync" else "; an update is pending"),
        "replicas": wanted,
        "readyReplicas": ready,
        "health": _health(containers, wanted, ready),
        "revision": revisions[0] if len(revisions) == 1 else None,
        "revisions": revisions,
        "sync": row.get("sync", "synced"),
        "containers": containers,
    }


def _state(
    containers: list[dict[str, Any]], wanted: int, ready: int, declared: bool
) -> tuple[str, str]:
    if not declared:
        return "orphaned", "not declared in the manifests (removed by the next pass if prune is on)"
    if wanted == 0:
        return "stopped", "scaled to 0 replicas"
    if not containers:
        return "pending", f"0/{wanted} replicas created yet"
    if ready >= wanted:
        return "running", f"all {wanted} replica{'s' if wanted != 1 else ''} ready"
    waiting = [c for c in containers if c["health"] == "starting" or c["state"] == "created"]
    if waiting and len(waiting) + ready >= min(wanted, len(containers)):
        return "starting", f"{ready}/{wanted} replicas ready; waiting for {waiting[0]['name']}"
    broken = next(
        (c for c in containers if c["state"] != "running" or c["health"] == "unhealthy"), None
    )
    detail = f"; {broken['name']} is {broken['status'] or broken['state']}" if broken else ""
    return ("failed" if ready == 0 else "degraded"), f"{ready}/{wanted} replicas ready{detail}"


def _health(containers: list[dict[str, Any]], wanted: int, ready: int) -> str:
    if any(c["health"] == "unhealthy" for c in containers):
        return "unhealthy"
    if any(c["health"] == "starting" for c in containers):
        return "starting"
    if wanted == 0 or not containers:
        return "unknown"
    return "healthy" if ready >= wanted else "unhealthy"


def container_names(obj: Mapping[str, Any]) -> list[str]:
    return [str(c["name"]) for c in obj.get("containers", [])]
