"""The route table: every route the API serves, with its scope, parameters and answer.

build_app registers exactly these, the auth and rate-limit middlewares read them, and the
OpenAPI document is generated from them.
"""

from __future__ import annotations

from reconciler.api import freshness, views, views_backups, views_system, views_workloads
from reconciler.api.listing import MAX_OFFSET
from reconciler.api.logs import MAX_LINES
from reconciler.api.resources import STATES
from reconciler.api.routing import PROMETHEUS, SSE, TEXT, Param, Route
from reconciler.api.views import APP_SORTS, DEPLOYMENT_SORTS, ENVIRONMENTS
from reconciler.api.views_backups import (
    BACKUP_KINDS,
    BACKUP_SORTS,
    BACKUP_STATUSES,
    RESTORE_SORTS,
    TASK_RUN_SORTS,
    TASK_RUN_STATUSES,
    VERIFIED,
)
from reconciler.api.views_system import EVENT_FAMILIES
from reconciler.api.webhooks import handle_webhook
from reconciler.backups.restore_records import RESTORE_STATUSES
from reconciler.daemon.signatures import PROVIDERS
from reconciler.scheduler.freshness import STATES as FRESHNESS
from reconciler.store.deployments import STATUSES

V1 = "/api/v1"

NAME = Param("name", "path", {"type": "string"}, "The app or add-on name in the manifests.")
ID = Param("id", "path", {"type": "integer"}, "The deployment id.")
BACKUP_ID = Param("id", "path", {"type": "integer"}, "The backup id.")
TASK = Param("name", "path", {"type": "string"}, "The task name in the manifests.")
PAGE = (
    Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
          "Items per page."),
    Param("offset", "query", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
          "Items to skip."),
)  # fmt: skip


def _sort(default: str, fields: tuple[str, ...]) -> Param:
    pattern = f"^({'|'.join(fields)})(:(asc|desc))?$"
    return Param(
        "sort",
        "query",
        {"type": "string", "pattern": pattern, "default": default},
        f"FIELD:asc or FIELD:desc, FIELD one of {', '.join(fields)}.",
    )


WORKLOAD_LIST = (
    *PAGE,
    _sort("name:asc", APP_SORTS),
    Param("status", "query", {"type": "string", "enum": list(STATES)}, "Only this state."),
    Param("environment", "query", {"type": "string", "enum": list(ENVIRONMENTS)},
          "Only apps of this environment."),
    Param("type", "query", {"type": "string"}, "Only this type (app, or an add-on engine)."),
    Param("sync", "query", {"type": "string"}, "synced, outOfSync or orphan."),
    Param("search", "query", {"type": "string"}, "Substring of the name, image or type."),
)  # fmt: skip
LOGS = (
    Param("lines", "query", {"type": "integer", "minimum": 1, "maximum": MAX_LINES, "default": 100},
          "How many of the last lines."),
    Param("since", "query", {"type": "string", "format": "date-time"},
          "Only lines written after this ISO 8601 time."),
    Param("container", "query", {"type": "string"}, "Only this container of the workload."),
    Param("follow", "query", {"type": "boolean", "default": False},
          "Keep streaming new lines as server-sent events (`log` events) until disconnected."),
)  # fmt: skip
DEPLOYMENT_LIST = (
    *PAGE,
    _sort("id:desc", DEPLOYMENT_SORTS),
    Param("status", "query", {"type": "string", "enum": list(STATUSES)}, "Only this status."),
    Param("trigger", "query", {"type": "string"}, "Only this trigger (api, webhook, drift, ...)."),
)
BACKUP_FILTERS = (
    *PAGE,
    _sort("id:desc", BACKUP_SORTS),
    Param("status", "query", {"type": "string", "enum": list(BACKUP_STATUSES)},
          "Only this status."),
    Param("verified", "query", {"type": "string", "enum": list(VERIFIED)},
          "true: verification passed; false: it failed; unknown: not verified (yet)."),
)  # fmt: skip
BACKUP_LIST = (
    *BACKUP_FILTERS,
    Param("source", "query", {"type": "string"}, "Only this source: an add-on, or APP-VOLUME."),
    Param("addon", "query", {"type": "string"}, "Only backups of this add-on."),
    Param("kind", "query", {"type": "string", "enum": list(BACKUP_KINDS)},
          "Only backups of add-ons or of app volumes."),
)  # fmt: skip
BACKUP_SOURCE_LIST = (
    *PAGE,
    _sort("backup:asc", freshness.SOURCE_SORTS),
    Param("freshness", "query", {"type": "string", "enum": list(FRESHNESS)},
          "Only declared backups in this state."),
    Param("kind", "query", {"type": "string", "enum": list(freshness.SOURCE_KINDS)},
          "Only backups of add-ons or of app volumes."),
    Param("source", "query", {"type": "string"}, "Only this source: an add-on, or APP-VOLUME."),
)  # fmt: skip
RESTORE_LIST = (
    *PAGE,
    _sort("id:desc", RESTORE_SORTS),
    Param("status", "query", {"type": "string", "enum": list(RESTORE_STATUSES)},
          "Only this status (an interrupted restore is failed, its error says so)."),
    Param("trigger", "query", {"type": "string"}, "Only this trigger (api, cli)."),
    Param("source", "query", {"type": "string"},
          "Only restores into this target: an add-on, or APP-VOLUME."),
    Param("fromSource", "query", {"type": "string"},
          "Only restores of backups taken of this source."),
    Param("kind", "query", {"type": "string", "enum": list(BACKUP_KINDS)},
          "Only restores into add-ons or into app volumes."),
    Param("backupId", "query", {"type": "integer"}, "Only restores of this backup."),
)  # fmt: skip
TASK_RUN_LIST = (
    *PAGE,
    _sort("id:desc", TASK_RUN_SORTS),
    Param("status", "query", {"type": "string", "enum": list(TASK_RUN_STATUSES)},
          "Only this status."),
    Param("trigger", "query", {"type": "string"}, "Only this trigger (api, schedule, manual)."),
)  # fmt: skip
FAMILY = "|".join(EVENT_FAMILIES)
EVENTS = (
    Param("types", "query", {"type": "string", "pattern": f"^({FAMILY})(,({FAMILY}))*$"},
          f"Comma-separated event families: {', '.join(EVENT_FAMILIES)}."),
    Param("after", "query", {"type": "integer"}, "Replay kept events newer than this id."),
    Param("Last-Event-ID", "header", {"type": "string"},
          "As `after`; sent by reconnecting clients (ignored unless an event id)."),
)  # fmt: skip
WAIT = Param("wait", "query", {"type": "boolean", "default": False},
             "Answer when the pass has finished, with its deployment.")  # fmt: skip
PROVIDER = Param("provider", "path", {"type": "string", "enum": list(PROVIDERS)}, "Git host kind.")
SIGNATURES = tuple(
    Param(header, "header", {"type": "string"}, "Signature or token of the webhook's provider.")
    for header in ("X-Hub-Signature-256", "X-Gitlab-Token", "X-Gitea-Signature", "X-Signature-256")
)


def _workload_routes(kind: str, label: str, read: str) -> tuple[Route, ...]:
    base = f"{V1}/{kind}s/{{name}}"
    w = views_workloads
    get, status, logs, metrics, restart = {
        "app": (w.get_app, w.app_status, w.app_logs, w.app_metrics, w.restart_app),
        "addon": (w.get_addon, w.addon_status, w.addon_logs, w.addon_metrics, w.restart_addon),
    }[kind]
    tag = f"{kind}s"
    return (
        Route("GET", base, get, f"One {label}", tag, read, kind.capitalize(), params=(NAME,),
              errors=(503,)),
        Route("GET", f"{base}/status", status, f"Runtime status of one {label}", tag, read,
              "Status", params=(NAME,), errors=(503,)),
        Route("GET", f"{base}/logs", logs, f"Recent (or followed) logs of one {label}", tag, read,
              media=TEXT, also_media=(SSE,), params=(NAME, *LOGS), errors=(503,)),
        Route("GET", f"{base}/metrics", metrics, f"CPU, memory and network use of one {label}",
              tag, read, "AddonMetrics" if kind == "addon" else "Metrics", params=(NAME,),
              errors=(503,)),
        Route("POST", f"{base}/restart", restart, f"Rolling restart of one {label}", tag,
              "reconcile:trigger", "RestartAccepted", status=202, params=(NAME,), trigger=True,
              errors=(409, 503)),
    )  # fmt: skip


ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", views.health, "Liveness and the running revision", "system", None,
          "Health"),
    Route("GET", "/metrics", views_system.prometheus_metrics, "Prometheus metrics", "system", None,
          media=PROMETHEUS),
    Route("GET", "/openapi.json", views_system.openapi, "This document", "system", None,
          "OpenApi"),
    Route("GET", f"{V1}/openapi.json", views_system.openapi, "This document", "system", None,
          "OpenApi"),
    Route("POST", f"{V1}/webhooks/{{provider}}", handle_webhook, "Signed git push webhook",
          "webhooks", None, "WebhookAnswer", status=202, also=(200,),
          params=(PROVIDER, *SIGNATURES), trigger=True, errors=(401, 413)),
    Route("GET", f"{V1}/apps", views.list_apps, "List apps", "apps", "apps:read", "AppList",
          params=WORKLOAD_LIST, errors=(503,)),
    *_workload_routes("app", "app", "apps:read"),
    Route("GET", f"{V1}/addons", views.list_addons, "List add-ons", "addons", "addons:read",
          "AddonList", params=WORKLOAD_LIST, errors=(503,)),
    *_workload_routes("addon", "add-on", "addons:read"),
    Route("GET", f"{V1}/addons/{{name}}/credentials", views_workloads.addon_credentials,
          "Connection credentials of one add-on (the only answer with a password)", "addons",
          "addons:credentials", "Credentials", params=(NAME,), errors=(503,)),
    Route("POST", f"{V1}/addons/{{name}}/rotate-credentials",
          views_workloads.rotate_addon_credentials,
          "New password for an add-on; connected apps are rolled onto it", "addons", "admin",
          "RotationAccepted", status=202, params=(NAME,), trigger=True, errors=(409, 503)),
    Route("GET", f"{V1}/addons/{{name}}/backups", views_backups.addon_backups,
          "Backups of one add-on, newest first", "backups", "backups:read", "BackupList",
          params=(NAME, *BACKUP_FILTERS), errors=(503,)),
    Route("POST", f"{V1}/addons/{{name}}/backup", views_backups.start_backup,
          "Back up one add-on now (through its declared backup, if any: verify and retention "
          "too)", "backups", "backups:write", "BackupAccepted", status=202, params=(NAME,),
          trigger=True, errors=(409, 503),
          description="Answers once the backup's record exists; poll GET /backups/{id} or "
          "follow `backup` events. 409 while a backup or restore of the add-on runs."),
    Route("GET", f"{V1}/backups", views_backups.list_backups, "Backups of every source",
          "backups", "backups:read", "BackupList", params=BACKUP_LIST),
    Route("GET", f"{V1}/backup-sources", freshness.list_backup_sources,
          "Declared backups and whether each is fresh", "backups", "backups:read",
          "BackupSourceList", params=BACKUP_SOURCE_LIST,
          description="A scheduled backup is degraded when none of its runs succeeded within "
          "twice its schedule's interval; one that never succeeded counts from when the "
          "reconciler first saw it. /health, /system/doctor and /metrics say so too."),
    Route("GET", f"{V1}/backups/{{id}}", views_backups.get_backup, "One backup", "backups",
          "backups:read", "Backup", params=(BACKUP_ID,)),
    Route("POST", f"{V1}/backups/{{id}}/restore", views_backups.restore_backup,
          "Restore a backup into its add-on or volume, or into another add-on", "backups",
          "backups:restore", "RestoreAccepted", status=202, params=(BACKUP_ID,), trigger=True,
          body="RestoreRequest", body_required=True, errors=(409, 422, 503),
          description="Without `acknowledgeDataOverwrite: true`, a 422 says what would be "
          "overwritten and which apps would be stopped; nothing changes. Answers once the "
          "restore's record exists (`restoreId`); poll GET /restores or follow `restore` "
          "events for the outcome. 409 while a backup or restore of the target runs."),
    Route("GET", f"{V1}/restores", views_backups.list_restores,
          "Every restore, newest first: who asked, into what, the outcome and why", "backups",
          "backups:read", "RestoreList", params=RESTORE_LIST,
          description="Restores from the API and the CLI alike. One whose process died is "
          "failed with an `interrupted:` error once the reconciler starts again."),
    Route("POST", f"{V1}/tasks/{{name}}/runs", views_backups.run_task,
          "Run a declared task now", "tasks", "reconcile:trigger", "TaskRunAccepted", status=202,
          params=(TASK,), trigger=True, errors=(409, 503),
          description="Answers once the first attempt's record exists; follow `task` events or "
          "poll GET /tasks/{name}/runs. 409 while a `concurrency: forbid` task runs."),
    Route("GET", f"{V1}/tasks/{{name}}/runs", views_backups.list_task_runs,
          "Runs of one task, newest first (with the end of each run's log)", "tasks",
          "apps:read", "TaskRunList", params=(TASK, *TASK_RUN_LIST), errors=(503,)),
    Route("GET", f"{V1}/deployments", views.list_deployments, "Deployment history", "deployments",
          "deployments:read", "DeploymentList", params=DEPLOYMENT_LIST),
    Route("GET", f"{V1}/deployments/{{id}}", views.get_deployment, "One deployment",
          "deployments", "deployments:read", "Deployment", params=(ID,)),
    Route("POST", f"{V1}/deployments/{{id}}/retry", views.retry_deployment,
          "Reconcile again after a failed deployment", "deployments", "reconcile:trigger",
          "RetryAccepted", status=202, params=(ID,), trigger=True, errors=(409,)),
    Route("POST", f"{V1}/reconcile", views.trigger_reconcile, "Fetch and reconcile now",
          "deployments", "reconcile:trigger", "ReconcileAccepted", status=202, also=(200,),
          params=(WAIT,), trigger=True),
    Route("GET", f"{V1}/plan", views.get_plan, "What the next reconcile would do", "deployments",
          "deployments:read", "Plan", errors=(503,)),
    Route("GET", f"{V1}/system/doctor", views_system.doctor, "Is everything reachable",
          "system", "deployments:read", "Doctor"),
    Route("GET", f"{V1}/events", views_system.events,
          "Server-sent events: deployments, actions, drift, health, restarts, backups, "
          "restores, task runs", "system",
          "deployments:read", media=SSE, params=EVENTS, errors=(429,)),
    Route("GET", f"{V1}/audit-events", views.list_audit_events,
          "Every trigger and authentication failure", "system", "admin", "AuditEventList",
          params=PAGE),
)  # fmt: skip
