"""Is a declared backup fresh? Pure: a cron schedule, the last success and `now` in, a verdict out.

A backup is degraded when no run has succeeded within twice its schedule's interval. The
interval is read off the cron expression around `now`: the longer of the gaps between the last
two fire times and between the last one and the next, so a weekday-only schedule is not called
degraded over a weekend. A backup that never succeeded is measured from when the reconciler
first saw it (`watched_since`), so a newly declared one is not degraded at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from reconciler.manifests.cron import cron_fields
from reconciler.scheduler.cron import Fields, matches

OK, DEGRADED, UNSCHEDULED = "ok", "degraded", "unscheduled"
STATES = (OK, DEGRADED, UNSCHEDULED)
#: Missed runs allowed before a backup is degraded, in schedule intervals.
TOLERATED_INTERVALS = 2
#: How far to look for fire times: "0 0 29 2 1" (Feb 29 or a Monday) is the sparsest crontab
#: can be in practice, but Feb 29 alone recurs only every 4 (at most 8) years.
SEARCH_DAYS = 8 * 366 + 1


@dataclass(frozen=True)
class Freshness:
    state: str  # ok | degraded | unscheduled
    reason: str
    interval: timedelta | None = None  # None when unscheduled
    degraded_at: datetime | None = None  # when it became (or will become) degraded

    @property
    def degraded(self) -> bool:
        return self.state == DEGRADED


def _local_days(start: date, step: int) -> Iterator[date]:
    for offset in range(SEARCH_DAYS):
        yield start + timedelta(days=offset * step)


def _times_of_day(fields: Fields) -> list[time]:
    minutes, hours = fields[0], fields[1]
    return [
        time(hour, minute)
        for hour in sorted(hours if hours is not None else range(24))
        for minute in sorted(minutes if minutes is not None else range(60))
    ]


def _fires(fields: Fields, zone: ZoneInfo, moment: datetime, forward: bool) -> Iterator[datetime]:
    """Fire times (UTC) strictly after `moment`, or at or before it, nearest first.

    Walks local calendar days and only then the times of a matching day, so a yearly
    schedule costs a few hundred day checks rather than half a million minute checks."""
    day_fields = (None, None, *fields[2:])
    times = _times_of_day(fields)
    local = moment.astimezone(zone)
    for day in _local_days(local.date(), 1 if forward else -1):
        if not matches(day_fields, datetime.combine(day, time())):
            continue
        fires = sorted(datetime.combine(day, t, zone).astimezone(UTC) for t in times)
        for fire in fires if forward else reversed(fires):
            if (fire > moment) if forward else (fire <= moment):
                yield fire


def schedule_interval(expr: str, timezone: str, now: datetime) -> timedelta | None:
    """The schedule's interval around `now`; None when it never fires within the search."""
    fields = cron_fields(expr)
    zone = ZoneInfo(timezone)
    before = _fires(fields, zone, now, forward=False)
    previous = [fire for fire, _ in zip(before, range(2), strict=False)]
    following = next(_fires(fields, zone, now, forward=True), None)
    gaps = []
    if len(previous) == 2:
        gaps.append(previous[0] - previous[1])
    if previous and following is not None:
        gaps.append(following - previous[0])
    return max(gaps) if gaps else None


def human_duration(span: timedelta) -> str:
    """1d, 2d12h, 1h30m, 5m: the units a schedule is written in."""
    minutes = max(int(span.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    return "".join(parts) or "0m"


def short_time(moment: datetime) -> str:
    """2026-11-20T03:00Z: to the minute, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def assess(
    what: str,
    schedule: str | None,
    timezone: str,
    last_success: datetime | None,
    watched_since: datetime,
    now: datetime,
) -> Freshness:
    """Whether the backup of `what` succeeded recently enough (every time zone-aware)."""
    if not schedule:
        return Freshness(UNSCHEDULED, f"backup of {what} has no schedule; it runs on demand only")
    interval = schedule_interval(schedule, timezone, now)
    if interval is None:
        return Freshness(UNSCHEDULED, f"schedule {schedule!r} does not fire in the coming years")
    allowed = interval * TOLERATED_INTERVALS
    expect = f"expected one every {human_duration(interval)} (degraded after "
    expect += f"{human_duration(allowed)})"
    if last_success is not None:
        since, deadline = f"since {short_time(last_success)}", last_success + allowed
    else:
        # Never succeeded: the clock starts when the reconciler first saw the declaration.
        since = f"since it was first seen {short_time(watched_since)}"
        deadline = watched_since + allowed
    if now > deadline:
        return Freshness(
            DEGRADED, f"no successful backup of {what} {since}; {expect}", interval, deadline
        )
    if last_success is not None:
        reason = f"last successful backup of {what} {short_time(last_success)}; {expect}"
    else:
        reason = f"no successful backup of {what} yet (first seen {short_time(watched_since)}); "
        reason += expect
    return Freshness(OK, reason, interval, deadline)
