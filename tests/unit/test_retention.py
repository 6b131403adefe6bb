"""Retention policies over synthetic backup lists: keep-last, GFS, edge cases, properties."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reconciler.backups.retention import Candidate, Policy, to_delete, to_keep

START = datetime(2024, 1, 1, 2, 0, tzinfo=UTC)


def daily(
    count: int, start: datetime = START, step: timedelta = timedelta(days=1)
) -> list[Candidate]:
    return [Candidate(i + 1, start + i * step) for i in range(count)]


def test_keep_last_n_keeps_the_newest() -> None:
    backups = daily(10)
    assert to_delete(backups, Policy(keep_last=3)) == [1, 2, 3, 4, 5, 6, 7]
    assert to_keep(backups, Policy(keep_last=3)) == {8, 9, 10}


def test_fewer_backups_than_the_policy_keeps_all() -> None:
    assert to_delete(daily(2), Policy(keep_last=14)) == []
    assert to_delete([], Policy(keep_last=1)) == []


def test_only_completed_backups_count_and_others_are_never_deleted() -> None:
    backups = [
        Candidate(1, START, "completed"),
        Candidate(2, START + timedelta(hours=1), "failed"),
        Candidate(3, START + timedelta(hours=2), "running"),
        Candidate(4, START + timedelta(hours=3), "completed"),
    ]
    # A failed newer run must not push the last good backup out.
    assert to_delete(backups, Policy(keep_last=1)) == [1]


def test_newest_successful_backup_survives_any_policy() -> None:
    backups = daily(5)
    assert to_keep(backups, Policy()) == {5}  # a policy keeping nothing still keeps the newest


def test_daily_keeps_the_newest_backup_of_each_day() -> None:
    backups = daily(12, step=timedelta(hours=6))  # 4 a day for 3 days
    kept = to_keep(backups, Policy(keep_daily=2))
    assert kept == {12, 8}  # last of day 3 and last of day 2


def test_weekly_uses_iso_weeks_across_the_new_year() -> None:
    # 2020-12-31 (Thu) and 2021-01-03 (Sun) are both in ISO week 2020-W53.
    backups = [
        Candidate(1, datetime(2020, 12, 24, tzinfo=UTC)),
        Candidate(2, datetime(2020, 12, 31, tzinfo=UTC)),
        Candidate(3, datetime(2021, 1, 3, tzinfo=UTC)),
        Candidate(4, datetime(2021, 1, 4, tzinfo=UTC)),  # Monday, 2021-W01
    ]
    assert to_keep(backups, Policy(keep_weekly=2)) == {4, 3}
    assert to_keep(backups, Policy(keep_weekly=3)) == {4, 3, 1}


def test_monthly_buckets_follow_the_schedule_time_zone() -> None:
    # 23:30 UTC on 31 January is already 1 February in Berlin.
    late = Candidate(1, datetime(2024, 1, 31, 23, 30, tzinfo=UTC))
    early = Candidate(2, datetime(2024, 2, 1, 8, 0, tzinfo=UTC))
    policy = Policy(keep_monthly=2)
    assert to_keep([late, early], policy, ZoneInfo("UTC")) == {1, 2}
    assert to_keep([late, early], policy, ZoneInfo("Europe/Berlin")) == {2}


def test_daily_across_a_dst_change_counts_calendar_days() -> None:
    zone = ZoneInfo("Europe/Berlin")  # 2024-03-31: clocks jump from 02:00 to 03:00
    moments = [datetime(2024, 3, d, 1, 30, tzinfo=zone) for d in (29, 30, 31)]
    backups = [Candidate(i + 1, m.astimezone(UTC)) for i, m in enumerate(moments)]
    assert to_keep(backups, Policy(keep_daily=3), zone) == {1, 2, 3}


def test_gfs_combines_rules_as_a_union() -> None:
    backups = daily(120)  # four months of nightly backups
    policy = Policy(keep_last=3, keep_daily=7, keep_weekly=4, keep_monthly=6)
    kept = to_keep(backups, policy)
    newest = backups[-1].finished_at
    days = {b.finished_at.date() for b in backups if b.id in kept}
    # The newest 7 days are all there, plus one per week further back, plus one per month.
    assert all((newest - timedelta(days=d)).date() in days for d in range(7))
    months = {(b.finished_at.year, b.finished_at.month) for b in backups if b.id in kept}
    assert months == {(2024, 1), (2024, 2), (2024, 3), (2024, 4)}
    assert len(kept) <= 3 + 7 + 4 + 6


def test_ties_in_time_keep_the_higher_id() -> None:
    same = [Candidate(1, START), Candidate(2, START)]
    assert to_keep(same, Policy(keep_last=1)) == {2}


def test_policy_from_the_manifest_model() -> None:
    from reconciler.manifests.models import Backup

    backup = Backup.model_validate({"addon": "db", "retention": {"keepDaily": 7, "keepLast": 2}})
    assert Policy.of(backup.retention) == Policy(keep_last=2, keep_daily=7)
    assert Policy.of(Backup.model_validate({"addon": "db", "retention": 14}).retention) == Policy(
        keep_last=14
    )


def _random_backups(rng: random.Random) -> list[Candidate]:
    count = rng.randint(0, 60)
    moments = sorted(START + timedelta(minutes=rng.randint(0, 200 * 24 * 60)) for _ in range(count))
    statuses = ["completed"] * 8 + ["failed", "running"]
    return [Candidate(i + 1, m, rng.choice(statuses)) for i, m in enumerate(moments)]


def _random_policy(rng: random.Random) -> Policy:
    return Policy(*(rng.choice([0, 0, 1, 2, 3, 7, 30]) for _ in range(4)))


@pytest.mark.parametrize("seed", range(300))
def test_properties_over_random_histories(seed: int) -> None:
    rng = random.Random(seed)
    backups, policy = _random_backups(rng), _random_policy(rng)
    zone = ZoneInfo(rng.choice(["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]))
    kept, deleted = to_keep(backups, policy, zone), set(to_delete(backups, policy, zone))
    completed = [b for b in backups if b.status == "completed"]
    # Only completed backups are ever deleted, and every completed one is kept or deleted.
    assert kept | deleted == {b.id for b in completed} and not kept & deleted
    if completed:
        newest = max(completed, key=lambda b: (b.finished_at, b.id))
        assert newest.id in kept
    # keepLast alone keeps exactly min(N, completed), at least one.
    if policy == Policy(keep_last=policy.keep_last):
        assert len(kept) == min(max(policy.keep_last, 1), len(completed))
    # Applying the policy again to what it kept deletes nothing more (stable pruning).
    survivors = [b for b in backups if b.id not in deleted]
    assert to_delete(survivors, policy, zone) == []
    # A more generous policy never deletes more.
    bigger = Policy(
        policy.keep_last + 1, policy.keep_daily + 1, policy.keep_weekly, policy.keep_monthly
    )
    assert set(to_delete(backups, bigger, zone)) <= deleted
    # The bound: never more than the policy's counts (plus the newest).
    total = policy.keep_last + policy.keep_daily + policy.keep_weekly + policy.keep_monthly
    assert len(kept) <= max(total, 1)
