"""Run a Plan: infrastructure first, workloads in dependency order (parallel where independent),
deletes last. One workload's failure fails its dependents, never its neighbours."""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Protocol

from reconciler.apply.containers import ImageCache, Report, WorkloadRunner
from reconciler.desired.build import spec_hash
from reconciler.observed.port import DockerPort
from reconciler.plan.model import Action, ActionType, Plan
from reconciler.state import labels
from reconciler.state.errors import ReconcilerError
from reconciler.state.model import Kind, Observed

DEFAULT_PARALLELISM = 8


class Upgrader(Protocol):
    """Carries out an UPGRADE action (a dump-and-restore major-version upgrade of an add-on).

    It needs the backups (a higher layer), so the caller hands one in; raises ReconcilerError."""

    def __call__(self, action: Action, runner: WorkloadRunner) -> None: ...


@dataclass
class ApplyResult:
    succeeded: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    health_seconds: float = 0.0

    @property
    def converged(self) -> bool:
        return not self.failures


def apply_plan(
    port: DockerPort,
    plan: Plan,
    observed: Observed,
    report: Report,
    *,
    failed_before: dict[str, str] | None = None,
    parallelism: int = DEFAULT_PARALLELISM,
    upgrader: Upgrader | None = None,
) -> ApplyResult:
    """Execute `plan`; `failed_before` names workloads that already failed (e.g. a pull)."""
    result = ApplyResult(failures=dict(failed_before or {}))
    images = ImageCache(port, dict(observed.images), report)
    runner = WorkloadRunner(port, images, plan.revision, report)
    infra = [a for a in plan.actions if a.kind in (Kind.NETWORK, Kind.VOLUME)]
    work = [a for a in plan.actions if a.kind not in (Kind.NETWORK, Kind.VOLUME)]
    for action in infra:
        try:
            _create_infra(port, plan, action, report)
            result.succeeded.append(f"{action.kind.value}/{action.name}")
        except ReconcilerError as e:
            # Without the network or a volume no container can start: stop, change nothing more.
            result.failures[f"{action.kind.value}/{action.name}"] = str(e)
            return result
    converging = [a for a in work if a.action is not ActionType.DELETE]
    _run_in_dependency_order(converging, runner, result, report, parallelism, upgrader)
    deletes = [a for a in work if a.action is ActionType.DELETE]
    if deletes:
        # Nothing depends on what is being removed, so removals run side by side.
        with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="delete") as pool:
            list(pool.map(lambda action: _run_one(action, runner, result, report), deletes))
    result.health_seconds = runner.health_seconds
    return result


def _create_infra(port: DockerPort, plan: Plan, action: Action, report: Report) -> None:
    # Every managed object carries all five contract labels; a network's or volume's spec is
    # just its kind and name (both are created with engine defaults and never updated).
    marks = {
        labels.STACK: plan.stack,
        labels.KIND: action.kind.value,
        labels.NAME: action.name,
        labels.HASH: spec_hash({"kind": action.kind.value, "name": action.name}),
        labels.REVISION: plan.revision,
    }
    report(f"creating {action.kind.value} {action.name}")
    if action.kind is Kind.NETWORK:
        port.create_network(action.name, marks)
    else:
        port.create_volume(action.name, marks)


def _run_one(
    action: Action,
    runner: WorkloadRunner,
    result: ApplyResult,
    report: Report,
    upgrader: Upgrader | None = None,
) -> None:
    key = action.name
    try:
        if action.action is ActionType.UPGRADE:
            if upgrader is None:
                raise ReconcilerError(
                    f"add-on {key} needs a dump-and-restore upgrade, which this command cannot "
                    "run; use reconciler apply or the daemon"
                )
            upgrader(action, runner)
        elif action.action is ActionType.DELETE:
            for container in sorted(action.live, key=lambda c: c.name, reverse=True):
                runner.remove(container.name)
            for volume in action.delete_volumes:
                report(f"{key}: removing volume {volume} (deletionPolicy: delete)")
                runner.port.remove_volume(volume)
        elif action.workload is not None:
            runner.converge(action.workload, action.live, set(action.replace))
        result.succeeded.append(key)
    except ReconcilerError as e:
        result.failures[key] = str(e)
        report(f"{key}: FAILED: {e}")


def _run_in_dependency_order(
    actions: list[Action],
    runner: WorkloadRunner,
    result: ApplyResult,
    report: Report,
    parallelism: int,
    upgrader: Upgrader | None,
) -> None:
    pending = {action.name: action for action in actions if action.name not in result.failures}
    for name in set(a.name for a in actions) - set(pending):
        report(f"{name}: FAILED: {result.failures[name]}")
    in_plan = {action.name for action in actions}
    running: dict[Future[None], str] = {}
    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="apply") as pool:
        while pending or running:
            _schedule_ready(pending, in_plan, result, report, running, pool, runner, upgrader)
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                running.pop(future)
                future.result()


def _schedule_ready(
    pending: dict[str, Action],
    in_plan: set[str],
    result: ApplyResult,
    report: Report,
    running: dict[Future[None], str],
    pool: ThreadPoolExecutor,
    runner: WorkloadRunner,
    upgrader: Upgrader | None = None,
) -> None:
    """Start every action whose dependencies succeeded; fail those whose dependencies failed."""
    changed = True
    while changed:  # a failure can cascade through several levels of dependents at once
        changed = False
        for name, action in list(pending.items()):
            deps = [d for d in action.depends_on if d in in_plan or d in result.failures]
            failed = next((d for d in deps if d in result.failures), None)
            if failed is not None:
                result.failures[name] = f"not started: dependency {failed} failed"
                report(f"{name}: skipped, dependency {failed} failed")
                del pending[name]
                changed = True
            elif all(d in result.succeeded for d in deps):
                future = pool.submit(_run_one, action, runner, result, report, upgrader)
                running[future] = name
                del pending[name]
