"""Backup freshness as the API shows it: the declared backups of the checked-out manifests,
judged against their records. GET /backup-sources lists them; /health, /system/doctor and
/metrics call a stack degraded when one of them is."""

from __future__ import annotations

import asyncio
from datetime import datetime

from aiohttp import web

from reconciler.api.keys import DAEMON
from reconciler.api.listing import order, paginate_rows, parse_filters, parse_sort, select
from reconciler.backups.sources import ADDON, VOLUME
from reconciler.daemon.service import Daemon
from reconciler.desired.load import load_manifests
from reconciler.scheduler.backup_health import BackupStatus, backup_statuses
from reconciler.scheduler.freshness import STATES
from reconciler.state.errors import ReconcilerError

SOURCE_SORTS = ("backup", "source", "freshness", "lastSuccessAt", "degradedAt")
SOURCE_KINDS = (ADDON, VOLUME)


def declared_statuses(daemon: Daemon, now: datetime | None = None) -> list[BackupStatus]:
    """Every declared backup with its freshness; none before a revision is checked out.

    Blocking (a manifest load, a few queries): call off the event loop."""
    try:
        stack = load_manifests(daemon.mirror.manifest_dir).stack
    except (ReconcilerError, OSError):
        return []  # nothing accepted yet, so nothing declared to judge
    return backup_statuses(daemon.db, stack, now)


async def statuses(daemon: Daemon) -> list[BackupStatus]:
    return await asyncio.get_running_loop().run_in_executor(None, declared_statuses, daemon)


async def list_backup_sources(request: web.Request) -> web.Response:
    query = request.query
    sort = parse_sort(query.get("sort"), SOURCE_SORTS, "backup:asc")
    filters = parse_filters(query, {"freshness": STATES, "kind": SOURCE_KINDS, "source": None})
    rows = [status.to_dict() for status in await statuses(request.app[DAEMON])]
    return paginate_rows(request, order(select(rows, filters, None), sort))
