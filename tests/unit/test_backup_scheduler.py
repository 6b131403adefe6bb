"""Schedules: crontab semantics on APScheduler, jobs derived from manifests, JobScheduler sync."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.manifests.cron import cron_fields
from reconciler.manifests.models import Stack
from reconciler.scheduler.cron import next_fire, previous_fire, trigger
from reconciler.scheduler.jobs import JobSpec, job_specs
from reconciler.scheduler.runtime import JobScheduler

NOW = datetime(2024, 5, 15, 12, 34, 56, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    "expr",
    ["0 2 * * *", "*/15 * * * 1-5", "0 0 * * 0", "0 0 * * 7", "30 4 1,15 * 5", "@weekly",
     "5 4 * jan-mar sun", "0 12 13 * fri", "59 23 31 * *", "0 */6 * * sat,sun"],
)  # fmt: skip
def test_triggers_fire_exactly_when_crontab_would(expr: str) -> None:
    """APScheduler's own from_crontab gets weekday numbers and day OR-ing wrong; ours must not."""
    for zone in ("UTC", "Europe/Berlin"):
        fire = trigger(expr, zone)
        moment = NOW
        for _ in range(3):
            expected = next_fire(expr, moment, zone, timedelta(days=800))
            got = fire.get_next_fire_time(None, moment + timedelta(seconds=1))
            assert expected is not None and got is not None
            assert got.astimezone(UTC) == expected, (expr, zone, moment)
            moment = expected


@pytest.mark.parametrize("seed", range(20))
def test_random_schedules_agree_with_apscheduler(seed: int) -> None:
    rng = random.Random(seed)

    def field(low: int, high: int) -> str:
        kind = rng.choice(["*", "n", "range", "step", "list"])
        a, b = sorted(rng.sample(range(low, high + 1), 2))
        return {"*": "*", "n": str(a), "range": f"{a}-{b}", "step": f"*/{rng.randint(2, 9)}",
                "list": f"{a},{b}"}[kind]  # fmt: skip

    expr = " ".join([field(0, 59), field(0, 23), field(1, 28), field(1, 12), field(0, 6)])
    fire = trigger(expr, "UTC")
    expected = next_fire(expr, NOW, "UTC", timedelta(days=3000))
    got = fire.get_next_fire_time(None, NOW + timedelta(seconds=1))
    assert got is not None and expected is not None and got == expected, expr


def test_previous_fire_within_the_grace_time() -> None:
    assert previous_fire("30 12 * * *", NOW, "UTC", timedelta(hours=1)) == NOW.replace(
        minute=30, second=0
    )
    assert previous_fire("0 2 * * *", NOW, "UTC", timedelta(hours=1)) is None


def test_cron_fields_normalise_sunday() -> None:
    assert cron_fields("0 0 * * 7")[4] == frozenset({0})
    assert cron_fields("0 0 * * *")[4] is None


def stack(**extra: object) -> Stack:
    doc: dict[str, object] = {
        "version": 1,
        "stack": "shop",
        "addons": {"db": {"type": "postgresql"}},
        "apps": {"web": {"image": "web:1"}},
        "backups": {
            "nightly": {"addon": "db", "schedule": "0 2 * * *"},
            "manual": {"addon": "db"},
            "off": {"addon": "db", "schedule": "0 3 * * *", "enabled": False},
        },
        "tasks": {
            "report": {"app": "web", "command": ["r"], "schedule": "15 1 * * *"},
            "many": {"app": "web", "command": ["m"], "schedule": "@hourly", "concurrency": "allow"},
            "adhoc": {"app": "web", "command": ["a"]},
        },
        "settings": {"timezone": "Europe/Berlin", "prune": {"schedule": "30 3 * * *"}},
    }
    doc.update(extra)
    return Stack.model_validate(doc)


def test_job_specs_cover_enabled_scheduled_work_only() -> None:
    jobs = {job.id: job for job in job_specs(stack())}
    assert sorted(jobs) == [
        "shop:backup:nightly", "shop:prune:", "shop:task:many", "shop:task:report",
    ]  # fmt: skip
    assert jobs["shop:backup:nightly"].timezone == "Europe/Berlin"
    assert jobs["shop:task:report"].max_instances == 1
    assert jobs["shop:task:many"].max_instances > 1
    assert jobs["shop:prune:"].schedule == "30 3 * * *"
    assert stack().settings.prune is True  # the mapping form keeps pruning of objects on


def spec(name: str, schedule: str = "0 2 * * *", **extra: object) -> JobSpec:
    return JobSpec(f"s:backup:{name}", "s", "backup", name, schedule, "UTC", **extra)  # type: ignore[arg-type]


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def started(scheduler: JobScheduler, loop: asyncio.AbstractEventLoop) -> JobScheduler:
    done = threading.Event()

    def start() -> None:
        scheduler.start()
        done.set()

    loop.call_soon_threadsafe(start)
    assert done.wait(5)
    return scheduler


def test_sync_adds_changes_and_removes_without_duplicates(loop: asyncio.AbstractEventLoop) -> None:
    scheduler = started(JobScheduler(lambda _: None, event_loop=loop), loop)
    try:
        first = scheduler.sync([spec("a"), spec("b")])
        assert first.added == ("s:backup:a", "s:backup:b")
        before = scheduler.next_runs()
        again = scheduler.sync([spec("a"), spec("b")])
        assert again.added == again.changed == again.removed == ()
        assert scheduler.next_runs() == before
        changed = scheduler.sync([spec("a", "0 4 * * *"), spec("c")])
        assert changed.changed == ("s:backup:a",) and changed.added == ("s:backup:c",)
        assert changed.removed == ("s:backup:b",)
        runs = scheduler.next_runs()
        assert sorted(runs) == ["s:backup:a", "s:backup:c"]
        assert runs["s:backup:a"] is not None and runs["s:backup:a"].hour == 4
        with pytest.raises(ValueError, match="duplicate"):
            scheduler.sync([spec("a"), spec("a")])
    finally:
        scheduler.shutdown()


def test_a_run_missed_while_down_runs_once_on_start(loop: asyncio.AbstractEventLoop) -> None:
    ran: list[str] = []
    now = datetime.now(UTC)
    fired = (now - timedelta(minutes=5)).strftime("%M %H * * *")  # fired 5 minutes ago

    def last_run(job: JobSpec) -> datetime | None:
        return now - timedelta(days=1) if job.name != "fresh" else None

    scheduler = started(
        JobScheduler(lambda job: ran.append(job.name), last_run=last_run, event_loop=loop), loop
    )
    try:
        scheduler.sync([spec("missed", fired), spec("fresh", fired), spec("later", "0 0 1 1 *")])
        deadline = time.monotonic() + 5
        while not ran and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert ran == ["missed"]  # never-run jobs and jobs not due are not caught up
    finally:
        scheduler.shutdown()


def test_at_most_max_instances_run_at_once(loop: asyncio.AbstractEventLoop) -> None:
    release = threading.Event()
    running: list[int] = []
    peak: list[int] = []

    def slow(_: JobSpec) -> None:
        running.append(1)
        peak.append(len(running))
        release.wait(5)
        running.pop()

    scheduler = started(JobScheduler(slow, event_loop=loop, workers=4), loop)
    try:
        scheduler.sync([spec("a")])
        for _ in range(3):
            scheduler.run_now("s:backup:a")
            time.sleep(0.2)
        assert peak == [1]
        release.set()
    finally:
        scheduler.shutdown(wait=True)


def test_a_failing_job_does_not_stop_the_scheduler(loop: asyncio.AbstractEventLoop) -> None:
    calls: list[str] = []

    def flaky(job: JobSpec) -> None:
        calls.append(job.name)
        raise RuntimeError("boom")

    scheduler = started(JobScheduler(flaky, event_loop=loop), loop)
    try:
        scheduler.sync([spec("a")])
        scheduler.run_now("s:backup:a")
        time.sleep(0.3)
        scheduler.run_now("s:backup:a")
        time.sleep(0.3)
        assert calls == ["a", "a"]
    finally:
        scheduler.shutdown()
