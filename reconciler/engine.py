"""One reconcile pass (load → desired → observe → plan → apply) behind a single-flight lock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.apply.containers import STOP_TIMEOUT
from reconciler.apply.executor import DEFAULT_PARALLELISM, ApplyResult, apply_plan
from reconciler.desired.build import build_desired
from reconciler.gitsync.revision import local_revision
from reconciler.manifests.loader import load_stack, resolve_root
from reconciler.observed.observe import observe
from reconciler.observed.port import DockerPort
from reconciler.plan.model import Plan
from reconciler.plan.planner import make_plan
from reconciler.state.errors import ReconcilerError
from reconciler.state.model import DesiredStack, Observed, PullPolicy

Report = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class Prepared:
    desired: DesiredStack
    observed: Observed
    plan: Plan


@dataclass(frozen=True)
class Outcome:
    prepared: Prepared
    result: ApplyResult = field(default_factory=ApplyResult)


class Engine:
    """Everything a CLI command or a daemon trigger does, one pass at a time."""

    def __init__(self, port: DockerPort, report: Report = _quiet) -> None:
        self.port = port
        self.report = report
        self._lock = threading.Lock()

    def desired(self, path: Path, revision: str | None = None) -> DesiredStack:
        loaded = load_stack(path)
        root, _ = resolve_root(path)
        return build_desired(loaded.stack, revision or local_revision(root))

    def prepare(self, path: Path, *, prune: bool | None = None) -> Prepared:
        """Load, observe and plan, without changing anything."""
        desired = self.desired(path)
        observed = observe(self.port, desired.stack)
        return Prepared(desired, observed, make_plan(desired, observed, prune=prune))

    def reconcile(self, path: Path, *, prune: bool | None = None) -> Outcome:
        """One full pass; concurrent callers wait their turn instead of applying twice at once."""
        with self._lock:
            desired = self.desired(path)
            self.report(f"stack {desired.stack}: revision {desired.revision}")
            pull_failures = self._pull_always(desired)
            observed = observe(self.port, desired.stack)
            plan = make_plan(desired, observed, prune=prune)
            prepared = Prepared(desired, observed, plan)
            if plan.empty and not pull_failures:
                return Outcome(prepared)
            result = apply_plan(self.port, plan, observed, self.report, failed_before=pull_failures)
            return Outcome(prepared, result)

    def _pull_always(self, desired: DesiredStack) -> dict[str, str]:
        """Re-pull `pull: always` images first, so the plan sees where each tag points now."""
        by_image: dict[str, list[str]] = {}
        for workload in desired.workloads:
            if workload.replicas and workload.replicas[0].pull is PullPolicy.ALWAYS:
                by_image.setdefault(workload.replicas[0].image, []).append(workload.name)
        failures: dict[str, str] = {}

        def pull(image: str) -> None:
            self.report(f"pulling {image}")
            try:
                self.port.pull(image)
            except ReconcilerError as e:
                for name in by_image[image]:
                    failures[name] = str(e)

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(pull, by_image))
        return failures

    def down(self, stack: str, *, volumes: bool = False) -> list[str]:
        """Remove every object labelled with this stack; volumes only when asked."""
        with self._lock:
            removed: list[str] = []
            containers = sorted(c.name for c in self.port.list_containers(stack))

            def remove(name: str) -> None:
                self.report(f"removing container {name}")
                self.port.stop(name, STOP_TIMEOUT)
                self.port.remove(name)

            with ThreadPoolExecutor(max_workers=DEFAULT_PARALLELISM) as pool:
                list(pool.map(remove, containers))
            removed.extend(containers)
            for network in self.port.list_networks(stack):
                self.report(f"removing network {network.name}")
                self.port.remove_network(network.name)
                removed.append(network.name)
            if volumes:
                for volume in self.port.list_volumes(stack):
                    self.report(f"removing volume {volume.name}")
                    self.port.remove_volume(volume.name)
                    removed.append(volume.name)
            return removed
