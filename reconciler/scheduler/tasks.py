"""Task runs: a short-lived container from an app's spec running one command, recorded.

The container gets the app's image, environment (add-on connections and secrets included),
volumes and network, but no published port and no restart policy; it is removed after the
run, and its exit code and the end of its log are kept in the state database.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from reconciler.backups.helpers import masker
from reconciler.desired.build import build_desired
from reconciler.desired.load import load_manifests
from reconciler.desired.units import seconds
from reconciler.engine import Engine
from reconciler.manifests.loader import LoadedStack
from reconciler.manifests.models import Task
from reconciler.observed.port import OneOffSpec
from reconciler.scheduler.runs import FAILED, SUCCEEDED, TIMED_OUT, TaskRun, TaskRunLog
from reconciler.state import labels
from reconciler.state.errors import DockerApiError, ReconcilerError
from reconciler.state.model import ContainerSpec
from reconciler.store.db import Database

TASK_KIND = "task"
LOG_LINES = 40
STOP_TIMEOUT = 10
Report = Callable[[str], None]
#: Told each attempt's run id once its record exists (the API answers with the first).
Started = Callable[[int], None]


def _quiet(_: str) -> None:
    pass


class TaskBusy(ReconcilerError):
    """A run of a `concurrency: forbid` task is in progress."""


class TaskRunner:
    def __init__(self, engine: Engine, db: Database, report: Report = _quiet) -> None:
        self.engine = engine
        self.port = engine.port
        self.runs = TaskRunLog(db)
        self.report = report

    def run(
        self, path: Path, name: str, trigger: str = "manual", started: Started | None = None
    ) -> TaskRun:
        """Run a declared task now, with its retries; return the last attempt's record."""
        loaded = load_manifests(path)
        stack = loaded.stack.stack
        task = loaded.stack.tasks.get(name)
        if task is None:
            known = ", ".join(sorted(loaded.stack.tasks)) or "none"
            raise ReconcilerError(f"no task named {name!r} in stack {stack} ({known})")
        if task.concurrency == "forbid" and self.runs.running(stack, name):
            raise TaskBusy(f"task {name} is already running (concurrency: forbid)")
        spec = app_spec(self.engine, loaded, task.app)
        run: TaskRun | None = None
        for attempt in range(1, task.retries + 2):
            run = self._attempt(stack, name, task, spec, trigger, attempt, started)
            if run.status == SUCCEEDED:
                break
        self.runs.trim(stack, name)
        assert run is not None
        return run

    def _attempt(
        self,
        stack: str,
        name: str,
        task: Task,
        spec: ContainerSpec,
        trigger: str,
        attempt: int,
        started: Started | None = None,
    ) -> TaskRun:
        run_id = self.runs.start(stack, name, trigger, attempt)
        container = f"{stack}-task-{name}-{run_id}"
        self.runs.set_container(run_id, container)
        if started is not None:
            started(run_id)
        mask = masker(value for key, value in spec.env if key in spec.secret_env)
        self.report(f"task {name}: run {run_id} (attempt {attempt}) in {container}")
        status, code, log = FAILED, None, ""
        try:
            self._start(task, spec, container, stack, name)
            code = self.port.wait(container, seconds(task.timeout))
            if code is None:
                self.port.stop(container, STOP_TIMEOUT)
                status = TIMED_OUT
            else:
                status = SUCCEEDED if code == 0 else FAILED
            log = self.port.logs_tail(container, LOG_LINES).strip()
            if status == TIMED_OUT:
                log += f"\n(stopped after the timeout of {task.timeout})"
        except ReconcilerError as e:
            log = str(e)
        finally:
            with contextlib.suppress(ReconcilerError):
                self.port.remove(container)
        self.runs.finish(run_id, status, code, mask(log))
        self.report(f"task {name}: run {run_id} {status} (exit code {code})")
        record = self.runs.get(run_id)
        assert record is not None
        return record

    def _start(
        self, task: Task, spec: ContainerSpec, container: str, stack: str, name: str
    ) -> None:
        one_off = OneOffSpec(
            image=spec.image,
            command=tuple(task.command),
            env=spec.env,
            volumes=spec.volumes,
            network=spec.network,
        )
        run_labels = {labels.STACK: stack, labels.KIND: TASK_KIND, labels.NAME: name}
        try:
            self.port.run_one_off(one_off, container, run_labels)
        except DockerApiError as e:
            if e.status != 404 or "image" not in str(e).lower():
                raise
            self.report(f"task {name}: pulling {spec.image}")
            self.port.pull(spec.image)
            with contextlib.suppress(ReconcilerError):
                self.port.remove(container)
            self.port.run_one_off(one_off, container, run_labels)


def app_spec(engine: Engine, loaded: LoadedStack, app_name: str) -> ContainerSpec:
    """The app's container spec with everything resolved, even for an app at replicas: 0
    (a common shape for an app that only exists to run tasks)."""
    stack = loaded.stack
    app = stack.apps[app_name].model_copy(update={"replicas": 1})
    single = stack.model_copy(update={"apps": {**stack.apps, app_name: app}})
    desired = build_desired(single, "task", engine.inputs(loaded.root), loaded.origins)
    workload = desired.workload(app_name)
    assert workload is not None and workload.replicas
    return workload.replicas[0]
