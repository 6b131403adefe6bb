"""The scheduled jobs a stack declares, as plain values: pure, derived from the manifests."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.manifests.models import Stack

BACKUP, TASK, PRUNE = "backup", "task", "prune"
#: A run missed by up to this much (the reconciler was down) still runs once on start.
MISFIRE_GRACE_SECONDS = 3600
#: `concurrency: allow` still has a ceiling: a hung task must not pile up without bound.
ALLOW_INSTANCES = 3


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job; equal specs mean an unchanged job (so it is left alone)."""

    id: str  # STACK:KIND:NAME, stable across reconciles
    stack: str
    kind: str  # backup | task | prune
    name: str
    schedule: str  # crontab, 5 fields or a macro
    timezone: str
    max_instances: int = 1
    misfire_grace_time: int = MISFIRE_GRACE_SECONDS


def job_specs(stack: Stack) -> list[JobSpec]:
    """Enabled, scheduled backups and tasks, and the prune job if settings ask for one."""
    zone = stack.settings.timezone
    jobs = [
        JobSpec(f"{stack.stack}:{BACKUP}:{name}", stack.stack, BACKUP, name, backup.schedule, zone)
        for name, backup in sorted(stack.backups.items())
        if backup.enabled and backup.schedule
    ]
    jobs += [
        JobSpec(
            f"{stack.stack}:{TASK}:{name}",
            stack.stack,
            TASK,
            name,
            task.schedule,
            zone,
            max_instances=1 if task.concurrency == "forbid" else ALLOW_INSTANCES,
        )
        for name, task in sorted(stack.tasks.items())
        if task.enabled and task.schedule
    ]
    if stack.settings.prune_schedule:
        schedule = stack.settings.prune_schedule
        jobs.append(JobSpec(f"{stack.stack}:{PRUNE}:", stack.stack, PRUNE, "", schedule, zone))
    return jobs
