"""One reconcile pass (load → desired → observe → plan → apply) behind a single-flight lock."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from secrets import token_urlsafe

from reconciler.addons.spec import Credentials
from reconciler.apply.containers import STOP_TIMEOUT
from reconciler.apply.executor import DEFAULT_PARALLELISM, ApplyResult, Upgrader, apply_plan
from reconciler.apply.lock import stack_lock
from reconciler.desired.addons import AddonPlan, resolve_addon
from reconciler.desired.datavolume import bind_data_volumes
from reconciler.desired.inputs import BuildInputs
from reconciler.desired.load import load_desired, load_manifests
from reconciler.gitsync.revision import local_revision
from reconciler.manifests.loader import resolve_root
from reconciler.observed.observe import Observer, observe
from reconciler.observed.port import DockerPort
from reconciler.plan.model import Plan
from reconciler.plan.planner import check_mass_deletion, make_plan
from reconciler.secrets.credentials import CredentialStore, hash_key
from reconciler.secrets.disks import DiskBudgets
from reconciler.secrets.sources import FileSecrets
from reconciler.state.errors import PlanError, ReconcilerError
from reconciler.state.model import DesiredStack, Observed, PullPolicy

Report = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class EngineSettings:
    """Where reconciler keeps its own state, and where secrets come from."""

    state_dir: Path = Path(".reconciler")
    age_identity: Path | None = None
    secrets_dir: Path | None = None


@dataclass(frozen=True)
class Prepared:
    desired: DesiredStack
    observed: Observed
    plan: Plan


@dataclass(frozen=True)
class Outcome:
    prepared: Prepared
    result: ApplyResult = field(default_factory=ApplyResult)
    #: Seconds per phase: load (manifests → desired), plan (observe + diff), apply, health.
    timings: dict[str, float] = field(default_factory=dict)


class Engine:
    """Everything a CLI command or a daemon trigger does, one pass at a time."""

    def __init__(
        self, port: DockerPort, report: Report = _quiet, settings: EngineSettings | None = None
    ) -> None:
        self.port = port
        self.report = report
        self.settings = settings or EngineSettings()
        self.credentials = CredentialStore(self.settings.state_dir)
        self.disks = DiskBudgets(self.settings.state_dir)
        self._lock = threading.Lock()
        #: Reads live state for a pass's first plan; the daemon sets its event-fed cache here.
        #: Applying always observes directly again, under the stack lock.
        self.observer: Observer | None = None
        #: Runs UPGRADE actions (add-ons with upgrade: dumpRestore); set by the CLI and daemon,
        #: which own the backups database. Without one, such an action fails and changes nothing.
        self.upgrader: Upgrader | None = None

    def inputs(self, root: Path) -> BuildInputs:
        state_dir = self.settings.state_dir
        secrets = FileSecrets(root, self.settings.age_identity, self.settings.secrets_dir)
        return BuildInputs(
            self.credentials,
            secrets,
            os.environ,
            lambda: hash_key(state_dir),
            root=root,
            files_dir=state_dir / "files",
        )

    def desired(self, path: Path, revision: str | None = None) -> DesiredStack:
        root, _ = resolve_root(path)
        _, desired = load_desired(path, revision or local_revision(root), self.inputs(root))
        return desired

    def addon(self, path: Path, name: str) -> AddonPlan:
        """An add-on resolved with its credentials (created now if it never ran)."""
        root, _ = resolve_root(path)
        loaded = load_manifests(path)
        addon = loaded.stack.addons.get(name)
        if addon is None:
            known = ", ".join(sorted(loaded.stack.addons)) or "none"
            raise ReconcilerError(
                f"no add-on named {name!r} in stack {loaded.stack.stack} ({known})"
            )
        images = loaded.stack.settings.images
        return resolve_addon(loaded.stack.stack, name, addon, images, self.inputs(root))

    def rotate_credentials(self, path: Path, name: str) -> Credentials:
        """A new password for an add-on: set inside the running server first, then stored.

        The next reconcile restarts the add-on and its connected apps with it (their hashes
        change through the secret digest).
        """
        addon = self.addon(path, name)
        current = self.credentials.load(addon.template.stack, name)
        if current is None:
            raise ReconcilerError(f"add-on {name} has no credentials yet; apply it first")
        new = Credentials(current.user, token_urlsafe(24), current.database)
        command = addon.engine.rotate_command
        container = addon.template.name
        if command is not None:
            result = self.port.exec_stdin(container, command, [new.password.encode() + b"\n"])
            if result.exit_code != 0:
                detail = result.output_tail.replace(new.password, "***")
                raise ReconcilerError(
                    f"changing the password inside {container} failed "
                    f"(exit {result.exit_code}): {detail}; the old password still works"
                )
        self.credentials.replace(addon.template.stack, name, new)
        self.report(f"add-on {name}: password rotated; the next reconcile restarts its apps")
        return new

    def prepare(self, path: Path, *, prune: bool | None = None) -> Prepared:
        """Load, observe and plan, without changing anything."""
        desired = self.desired(path)
        observed = observe(self.port, desired.stack)
        self._check_credentials_match_data(desired, observed)
        desired = bind_data_volumes(desired, observed)
        return Prepared(desired, observed, make_plan(desired, observed, prune=prune))

    def _check_credentials_match_data(self, desired: DesiredStack, observed: Observed) -> None:
        """Fresh credentials for an add-on whose data already exists would lock its apps out:
        the server keeps the password it was initialised with. Refuse, and say where to look."""
        volumes = {volume.name for volume in observed.volumes}
        orphaned = [
            addon
            for stack, addon in sorted(self.credentials.generated)
            if stack == desired.stack and f"{stack}-{addon}-data" in volumes
        ]
        if not orphaned:
            # Checked against the live volumes: from here on these credentials are the data's.
            self.credentials.generated.clear()
            return
        for addon in orphaned:
            self.credentials.forget_generated(desired.stack, addon)
        names = ", ".join(orphaned)
        raise PlanError(
            f"add-on(s) {names} already have data (volume {desired.stack}-{orphaned[0]}-data) "
            f"but no credentials in {self.settings.state_dir}; new ones would not match the "
            "password the server was initialised with. Run with the --state-dir that created "
            "them (or copy its credentials/ directory), or remove the volume to start empty"
        )

    def reconcile(
        self,
        path: Path,
        *,
        prune: bool | None = None,
        revision: str | None = None,
        allow_mass_deletion: bool = False,
        hold: dict[str, str] | None = None,
    ) -> Outcome:
        """One full pass; concurrent callers wait their turn instead of applying twice at once."""
        with self._lock:
            started = time.monotonic()
            desired = self.desired(path, revision)
            self.report(f"stack {desired.stack}: revision {desired.revision}")
            pull_failures = self._pull_always(desired)
            loaded = time.monotonic()
            timings = {"load": loaded - started}
            if self.observer is not None:
                observed = self.observer.observe(desired.stack)
            else:
                observed = observe(self.port, desired.stack)
            self._check_credentials_match_data(desired, observed)
            self.disks.check(desired)
            self.disks.record(desired)  # a budget only grows, so recording it early is safe
            # Each add-on mounts the data volume of its live major (see datavolume.py).
            bound = bind_data_volumes(desired, observed)
            plan = make_plan(bound, observed, prune=prune)
            allowed = allow_mass_deletion or desired.allow_mass_deletion
            check_mass_deletion(plan, observed, allowed=allowed)
            prepared = Prepared(bound, observed, plan)
            planned = time.monotonic()
            timings["plan"] = planned - loaded
            # Held workloads (backing off) with something to do count as failed, untouched.
            pending = {action.name for action in plan.actions}
            held = {name: why for name, why in (hold or {}).items() if name in pending}
            pull_failures = {**held, **pull_failures}
            if plan.empty and not pull_failures:
                return Outcome(prepared, timings=timings)
            if self.observer is not None:
                self.observer.changed()  # whatever happens next, Docker may change under it
            with stack_lock(desired.stack, self.report):
                # Another process may have changed the stack while we waited: plan again.
                observed = observe(self.port, desired.stack)
                bound = bind_data_volumes(desired, observed)
                plan = make_plan(bound, observed, prune=prune)
                check_mass_deletion(plan, observed, allowed=allowed)
                prepared = Prepared(bound, observed, plan)
                result = apply_plan(
                    self.port,
                    plan,
                    observed,
                    self.report,
                    failed_before=pull_failures,
                    upgrader=self.upgrader,
                )
            timings["apply"] = time.monotonic() - planned - result.health_seconds
            timings["health"] = result.health_seconds
            return Outcome(prepared, result, timings)

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
