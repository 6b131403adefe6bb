"""JSON Schemas (OpenAPI 3.0 dialect) of what the API answers; the route table names them."""

from __future__ import annotations

from typing import Any

from reconciler.api.resources import HEALTH, STATES
from reconciler.manifests.models import NAME_PATTERN
from reconciler.scheduler.freshness import STATES as FRESHNESS
from reconciler.store.deployments import STATUSES

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: tuple[str, ...] = (), **properties: Schema) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _nullable(schema: Schema) -> Schema:
    return {**schema, "nullable": True}


STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
ANY_OBJ: Schema = {"type": "object", "additionalProperties": True}
STRINGS: Schema = {"type": "array", "items": STR}
N_STR = _nullable(STR)
N_INT = _nullable(INT)

_CONTAINER = _obj(("name", "state", "status"), name=STR, state=STR, status=STR, health=N_STR)
_WORKLOAD = {
    "name": STR,
    "kind": {"type": "string", "enum": ["app", "addon"]},
    "declared": BOOL,
    "status": {"type": "string", "enum": list(STATES)},
    "health": {"type": "string", "enum": list(HEALTH)},
    "sync": {"type": "string", "enum": ["synced", "outOfSync", "orphan"]},
    "message": STR,
    "image": N_STR,
    "replicas": INT,
    "readyReplicas": INT,
    "revision": N_STR,
    "specHash": N_STR,
    "type": N_STR,
    "environment": N_STR,
    "containers": {"type": "array", "items": ref("Container")},
}
_WORKLOAD_REQUIRED = ("name", "kind", "status", "health", "replicas", "readyReplicas", "containers")

_MEASURE = _obj(
    ("usage", "limit", "percentage", "unit"),
    usage=_nullable(NUM),
    limit=_nullable(NUM),
    percentage=_nullable(NUM),
    unit={"type": "string", "enum": ["cores", "bytes"]},
)
_USAGE = {"cpu": ref("Measure"), "memory": ref("Measure"), "network": ref("Measure")}


def _list(item: str) -> Schema:
    return _obj(
        ("data", "pagination"),
        data={"type": "array", "items": ref(item)},
        pagination=ref("Pagination"),
    )


SCHEMAS: dict[str, Schema] = {
    "Error": _obj(
        ("error",),
        error=_obj(("code", "message", "status"), code=STR, message=STR, status=INT),
    ),
    "Pagination": _obj(
        ("total", "limit", "offset", "hasMore"), total=INT, limit=INT, offset=INT, hasMore=BOOL
    ),
    "Health": _obj(
        ("status", "version"),
        status={"type": "string", "enum": ["ok", "degraded"]},
        version=STR,
        revision=N_STR,
        pinned=N_STR,
        reason=N_STR,
        lastReconcile=_nullable(ANY_OBJ),
        backups=_obj(
            ("declared", "degraded"),
            declared=INT,
            degraded={**STRINGS, "description": "Declared backups that are degraded, by name."},
        ),
    ),
    "Container": _CONTAINER,
    "App": _obj(
        _WORKLOAD_REQUIRED,
        **_WORKLOAD,
        command=_nullable(STRINGS),
        port=N_INT,
        publish=STRINGS,
        resources=_obj(cpu=N_STR, memory=N_STR),
        addons=STRINGS,
        dependsOn=STRINGS,
        volumes=ANY_OBJ,
        files=STRINGS,
        labels=ANY_OBJ,
        update=STR,
        pull=STR,
        healthcheck=BOOL,
    ),
    "Addon": _obj(
        _WORKLOAD_REQUIRED,
        **_WORKLOAD,
        version=N_STR,
        tier=STR,
        cpu=STR,
        memory=STR,
        disk=STR,
        diskBytes=INT,
        publish=N_STR,
        deletionPolicy=STR,
        volume=STR,
        config=ANY_OBJ,
        connectedApps=STRINGS,
    ),
    "Status": _obj(
        ("state", "message", "replicas", "readyReplicas", "health", "revision"),
        state={"type": "string", "enum": list(STATES)},
        message=STR,
        replicas=INT,
        readyReplicas=INT,
        health={"type": "string", "enum": list(HEALTH)},
        revision=N_STR,
        sync=STR,
        containers={"type": "array", "items": ref("Container")},
    ),
    "Measure": _MEASURE,
    "ContainerUsage": _obj(("name", "cpu", "memory", "network"), name=STR, **_USAGE),
    "Metrics": _obj(
        ("name", "kind", "timestamp", "cpu", "memory", "network", "containers"),
        name=STR,
        kind=STR,
        timestamp=STR,
        **_USAGE,
        containers={"type": "array", "items": ref("ContainerUsage")},
    ),
    "AddonMetrics": {
        "allOf": [
            ref("Metrics"),
            _obj(
                ("disk",),
                disk=_obj(
                    ("usage", "limit", "known"), **_MEASURE["properties"], volume=STR, known=BOOL
                ),
            ),
        ]
    },
    "Credentials": _obj(
        ("addon", "host", "port", "connectionString"),
        addon=STR,
        type=N_STR,
        host=STR,
        port=INT,
        username=N_STR,
        password=N_STR,
        database=N_STR,
        connectionString=STR,
        publish=N_STR,
    ),
    "RestartAccepted": _obj(
        ("name", "kind", "status", "containers"),
        name=STR,
        kind=STR,
        status={"type": "string", "enum": ["restarting"]},
        containers=STRINGS,
    ),
    "RotationAccepted": _obj(
        ("addon", "status", "connectedApps"), addon=STR, status=STR, connectedApps=STRINGS
    ),
    "ReconcileAccepted": _obj(
        ("status",), status=STR, deploymentId=N_INT, triggers=INT, revision=N_STR
    ),
    "RetryAccepted": _obj(("status", "retryOf"), status=STR, retryOf=INT, deploymentId=N_INT),
    "Deployment": _obj(
        ("id", "revision", "trigger", "startedAt", "status"),
        id=INT,
        stack=STR,
        revision=STR,
        subject=STR,
        author=STR,
        trigger=STR,
        startedAt=STR,
        finishedAt=N_STR,
        status={"type": "string", "enum": list(STATUSES)},
        actions={"type": "array", "items": ANY_OBJ},
        errors=STRINGS,
    ),
    "Plan": _obj(
        ("stack", "revision", "actions"),
        stack=STR,
        revision=STR,
        actions={"type": "array", "items": ANY_OBJ},
    ),
    "AuditEvent": _obj(
        ("id", "at", "action"), id=INT, at=STR, action=STR, actor=STR, source=STR, detail=STR
    ),
    "Doctor": _obj(
        ("status", "docker", "git", "revision", "disk", "scheduler"),
        status={"type": "string", "enum": ["ok", "degraded", "failing"]},
        docker=ANY_OBJ,
        git=ANY_OBJ,
        revision=_obj(
            current=N_STR, lastGood=N_STR, lastRefused=N_STR, pinned=BOOL, pinnedRevision=N_STR
        ),
        disk=ANY_OBJ,
        queue=ANY_OBJ,
        scheduler=_obj(
            ("jobs",),
            jobs={
                "type": "array",
                "items": _obj(id=STR, nextRun=N_STR, error=STR),
                "description": "Scheduled jobs (STACK:backup|task|prune:NAME) and their next run.",
            },
        ),
        uptimeSeconds=NUM,
        backups=_obj(
            ("ok", "declared", "degraded"),
            ok=BOOL,
            declared=INT,
            degraded={**STRINGS, "description": "Why each degraded backup is degraded."},
        ),
    ),
    "Backup": _obj(
        ("id", "stack", "source", "kind", "status", "startedAt"),
        id=INT,
        stack=STR,
        source=STR,
        job=STR,
        kind={"type": "string", "enum": ["addon", "volume"]},
        engine=STR,
        version=STR,
        path=STR,
        size=INT,
        sha256=STR,
        compressed=BOOL,
        startedAt=STR,
        finishedAt=N_STR,
        status={"type": "string", "enum": ["running", "completed", "failed", "expiring"]},
        error=STR,
        verified=_nullable(BOOL),
        verifyDetail=STR,
    ),
    "BackupSource": _obj(
        ("stack", "backup", "source", "kind", "freshness", "reason"),
        stack=STR,
        backup=STR,
        source=STR,
        kind={"type": "string", "enum": ["addon", "volume"]},
        schedule=N_STR,
        timezone=STR,
        enabled=BOOL,
        freshness={
            "type": "string",
            "enum": list(FRESHNESS),
            "description": "degraded: no successful backup within twice the schedule's "
            "interval (measured from when the backup was first seen if it never succeeded).",
        },
        reason=STR,
        intervalSeconds=N_INT,
        lastSuccessAt=N_STR,
        watchedSince=N_STR,
        degradedAt=N_STR,
    ),
    "BackupAccepted": _obj(
        ("backupId", "status", "addon"),
        backupId=INT,
        status={"type": "string", "enum": ["in_progress"]},
        addon=STR,
        job=N_STR,
    ),
    "RestoreRequest": {
        **_obj(
            ("acknowledgeDataOverwrite",),
            acknowledgeDataOverwrite={
                **BOOL,
                "enum": [True],
                "description": "The target's data is replaced: say so. Without it, a 422 says "
                "what would be overwritten and which apps would be stopped.",
            },
            to={
                **N_STR,
                "pattern": NAME_PATTERN,
                "description": "Restore into this declared add-on instead (same engine).",
            },
        ),
        "additionalProperties": False,
    },
    "RestoreAccepted": _obj(
        ("backupId", "restoreId", "status", "source", "kind", "volume", "stoppedApps"),
        backupId=INT,
        status={"type": "string", "enum": ["in_progress"]},
        source=STR,
        kind={"type": "string", "enum": ["addon", "volume"]},
        addon=N_STR,
        container=N_STR,
        volume=STR,
        stoppedApps=STRINGS,
        restoreId={**INT, "description": "The restore's record: GET /restores lists it."},
    ),
    "Restore": _obj(
        ("id", "backupId", "stack", "source", "fromSource", "trigger", "startedAt", "status"),
        id=INT,
        backupId=INT,
        stack=STR,
        source={**STR, "description": "The target: an add-on, or APP-VOLUME."},
        fromSource={**STR, "description": "What the backup was taken of."},
        kind={"type": "string", "enum": ["addon", "volume"]},
        trigger={**STR, "description": "api, cli"},
        actor={**STR, "description": "The API token's name, or the CLI's local user."},
        peer={**STR, "description": "The API caller's address."},
        startedAt=STR,
        finishedAt=N_STR,
        seconds=_nullable(NUM),
        status={"type": "string", "enum": ["running", "completed", "failed"]},
        error={
            **STR,
            "description": "Why it failed (passwords masked); `interrupted: ...` "
            "when the reconciler stopped during the restore.",
        },
    ),
    "TaskRun": _obj(
        ("id", "task", "trigger", "attempt", "startedAt", "status"),
        id=INT,
        stack=STR,
        task=STR,
        trigger=STR,
        attempt=INT,
        container=STR,
        startedAt=STR,
        finishedAt=N_STR,
        status={"type": "string", "enum": ["running", "succeeded", "failed", "timeout"]},
        exitCode=N_INT,
        logTail=STR,
    ),
    "TaskRunAccepted": _obj(
        ("task", "runId", "status"),
        task=STR,
        runId=INT,
        status={"type": "string", "enum": ["running"]},
        trigger=STR,
    ),
    "Event": _obj(("id", "type", "at", "data"), id=INT, type=STR, at=STR, data=ANY_OBJ),
    "WebhookAnswer": _obj(("status",), status=STR, reason=STR, delivery=STR),
    "OpenApi": ANY_OBJ,
    "AppList": _list("App"),
    "AddonList": _list("Addon"),
    "DeploymentList": _list("Deployment"),
    "AuditEventList": _list("AuditEvent"),
    "BackupList": _list("Backup"),
    "BackupSourceList": _list("BackupSource"),
    "RestoreList": _list("Restore"),
    "TaskRunList": _list("TaskRun"),
}
