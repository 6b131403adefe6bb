"""Crontab schedules: APScheduler triggers with crontab's meaning, and missed-run detection.

APScheduler 3's CronTrigger.from_crontab numbers weekdays from Monday (its issue 286) and
requires both day fields to match, where crontab numbers from Sunday and runs when either
restricted day field matches. Triggers are therefore built from the parsed fields instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from reconciler.manifests.cron import cron_fields

_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
Fields = tuple[frozenset[int] | None, ...]


def _text(values: frozenset[int] | None, names: tuple[str, ...] = ()) -> str:
    if values is None:
        return "*"
    return ",".join(names[v] if names else str(v) for v in sorted(values))


def trigger(expr: str, timezone: str) -> Any:
    """An APScheduler trigger firing exactly when crontab would."""
    from apscheduler.triggers.combining import OrTrigger
    from apscheduler.triggers.cron import CronTrigger

    minute, hour, day, month, weekday = cron_fields(expr)
    common = {
        "minute": _text(minute),
        "hour": _text(hour),
        "month": _text(month),
        "timezone": ZoneInfo(timezone),
    }
    if day is not None and weekday is not None:
        return OrTrigger(
            [
                CronTrigger(day=_text(day), **common),
                CronTrigger(day_of_week=_text(weekday, _WEEKDAYS), **common),
            ]
        )
    return CronTrigger(day=_text(day), day_of_week=_text(weekday, _WEEKDAYS), **common)


def matches(fields: Fields, moment: datetime) -> bool:
    """Whether crontab would fire at `moment` (a local time, seconds ignored)."""
    minute, hour, day, month, weekday = fields
    cron_weekday = (moment.weekday() + 1) % 7  # Python counts from Monday, crontab from Sunday
    if day is not None and weekday is not None:
        day_ok = moment.day in day or cron_weekday in weekday
    else:
        day_ok = (day is None or moment.day in day) and (weekday is None or cron_weekday in weekday)
    return (
        day_ok
        and (minute is None or moment.minute in minute)
        and (hour is None or moment.hour in hour)
        and (month is None or moment.month in month)
    )


def previous_fire(expr: str, now: datetime, timezone: str, within: timedelta) -> datetime | None:
    """The latest time at or before `now`, and no older than `within`, when `expr` fired."""
    fields = cron_fields(expr)
    zone = ZoneInfo(timezone)
    moment = now.replace(second=0, microsecond=0)
    earliest = now - within
    while moment >= earliest:
        if matches(fields, moment.astimezone(zone)):
            return moment
        moment -= timedelta(minutes=1)
    return None


def next_fire(expr: str, after: datetime, timezone: str, within: timedelta) -> datetime | None:
    """The first time strictly after `after`, within `within`, when `expr` fires (for tests)."""
    fields = cron_fields(expr)
    zone = ZoneInfo(timezone)
    moment = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while moment <= after + within:
        if matches(fields, moment.astimezone(zone)):
            return moment
        moment += timedelta(minutes=1)
    return None
