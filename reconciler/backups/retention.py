"""Retention policies as pure functions: which of one source's backups to delete.

Each rule is applied on its own and a backup survives if any rule keeps it (restic's
semantics, easy to predict): keepLast keeps the newest N; keepDaily / keepWeekly / keepMonthly
keep the newest backup of each of the newest N days / ISO weeks / months that have one.
Calendar buckets are taken in the schedule's time zone, so "daily" means the user's days.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo

COMPLETED = "completed"


class _RetentionLike(Protocol):
    @property
    def keep_last(self) -> int: ...
    @property
    def keep_daily(self) -> int: ...
    @property
    def keep_weekly(self) -> int: ...
    @property
    def keep_monthly(self) -> int: ...


@dataclass(frozen=True)
class Policy:
    keep_last: int = 0
    keep_daily: int = 0
    keep_weekly: int = 0
    keep_monthly: int = 0

    @classmethod
    def of(cls, retention: _RetentionLike) -> Policy:
        """From the manifest's Retention (or anything with the same four counts)."""
        return cls(
            retention.keep_last, retention.keep_daily, retention.keep_weekly, retention.keep_monthly
        )


@dataclass(frozen=True)
class Candidate:
    """What retention needs to know about one backup."""

    id: int
    finished_at: datetime  # timezone-aware
    status: str = COMPLETED


Bucket = Callable[[datetime], Hashable]


def _day(moment: datetime) -> Hashable:
    return moment.date()


def _week(moment: datetime) -> Hashable:
    year, week, _ = moment.isocalendar()
    return (year, week)


def _month(moment: datetime) -> Hashable:
    return (moment.year, moment.month)


def to_keep(
    backups: Sequence[Candidate], policy: Policy, timezone: tzinfo | None = None
) -> set[int]:
    """Ids of the completed backups the policy keeps; the newest completed one always."""
    zone = timezone or ZoneInfo("UTC")
    done = sorted(
        (b for b in backups if b.status == COMPLETED),
        key=lambda b: (b.finished_at, b.id),
        reverse=True,
    )
    if not done:
        return set()
    keep = {b.id for b in done[: policy.keep_last]}
    for count, bucket in (
        (policy.keep_daily, _day),
        (policy.keep_weekly, _week),
        (policy.keep_monthly, _month),
    ):
        keep |= _newest_per_bucket(done, count, bucket, zone)
    keep.add(done[0].id)  # never lose the last good backup, whatever the policy says
    return keep


def to_delete(
    backups: Sequence[Candidate], policy: Policy, timezone: tzinfo | None = None
) -> list[int]:
    """Ids of completed backups beyond the policy, oldest first. Others are never touched."""
    keep = to_keep(backups, policy, timezone)
    doomed = [b for b in backups if b.status == COMPLETED and b.id not in keep]
    return [b.id for b in sorted(doomed, key=lambda b: (b.finished_at, b.id))]


def _newest_per_bucket(
    newest_first: list[Candidate], count: int, bucket: Bucket, zone: tzinfo
) -> set[int]:
    kept: set[int] = set()
    seen: set[Hashable] = set()
    for backup in newest_first:
        if len(seen) >= count:
            break
        key = bucket(backup.finished_at.astimezone(zone))
        if key not in seen:
            seen.add(key)
            kept.add(backup.id)
    return kept
