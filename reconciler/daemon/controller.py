"""One reconcile of the daemon: fetch (unless pinned), validate, plan, apply, record.

A commit that does not validate is refused whole and the last good revision stays checked out,
so drift repairs and restarts keep converging to what was last accepted.

Crash points `TRIGGER.fetched`, `TRIGGER.started` and `TRIGGER.applied` (e.g. `webhook.started`)
bracket the deployment record, so tests can kill a pass of one kind between fetching, recording
and finishing, whatever other passes run around it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from reconciler.daemon.backoff import Backoff
from reconciler.engine import Engine, Outcome
from reconciler.gitsync.repo import GitMirror, Revision
from reconciler.plan.render import plan_to_dict
from reconciler.state.errors import GitSyncError, ManifestErrors, PlanError, ReconcilerError
from reconciler.state.faults import crash_point
from reconciler.store.db import Database
from reconciler.store.deployments import DeploymentLog, now

log = logging.getLogger("reconciler.daemon")

LAST_GOOD = "last_good_revision"
PINNED = "pinned_revision"
GIT_ERROR = "git_error"
LAST_REFUSED = "last_refused_revision"
LAST_RECONCILE = "last_reconcile"
QUIET_TRIGGERS = frozenset({"poll", "drift"})
HISTORY_LIMIT = 1000
FETCHING_TRIGGERS = frozenset({"poll", "webhook", "api", "startup", "resume"})


@dataclass(frozen=True)
class PassResult:
    deployment_id: int | None
    status: str
    revision: str


class Controller:
    def __init__(self, engine: Engine, mirror: GitMirror, db: Database) -> None:
        self.engine = engine
        self.mirror = mirror
        self.db = db
        self.deployments = DeploymentLog(db)
        self.self_heal = True
        self.stack = ""  # known after the first pass that loads the manifests
        self.backoff = Backoff()
        self.last_pass: PassResult | None = None
        self.busy = threading.Event()

    def run_pass(self, trigger: str) -> PassResult:
        self.busy.set()
        try:
            result = self._run_pass(trigger)
        finally:
            self.busy.clear()
        self.last_pass = result
        return result

    def _run_pass(self, trigger: str) -> PassResult:
        fetch_started = time.monotonic()
        revision = self._revision(trigger)
        if revision is not None and revision.sha == self.db.get_meta(LAST_REFUSED):
            # Refused once is enough: keep converging to the last good revision, quietly.
            revision = self._restore_last_good()
        if revision is None:
            return PassResult(None, "failed", "")
        fetch_seconds = time.monotonic() - fetch_started
        crash_point(f"{trigger}.fetched")
        deployment = self.deployments.start(
            self.stack, revision.sha, revision.subject, revision.author, trigger
        )
        crash_point(f"{trigger}.started")
        try:
            held = self.backoff.held(revision.sha)
            outcome = self.engine.reconcile(
                self.mirror.manifest_dir, revision=revision.sha, hold=held
            )
        except ManifestErrors as e:
            errors = [issue.render() for issue in e.issues]
            self.deployments.finish(deployment, "refused", [], errors)
            self.db.set_meta(LAST_REFUSED, revision.sha)
            log.warning("revision %s refused: %d manifest error(s)", revision.sha[:12], len(errors))
            self._restore_last_good()
            return PassResult(deployment, "refused", revision.sha)
        except PlanError as e:
            # Guards (mass deletion, major upgrades) refuse the whole pass: nothing was changed.
            self.deployments.finish(deployment, "refused", [], [str(e)])
            log.warning("revision %s refused: %s", revision.sha[:12], e)
            return PassResult(deployment, "refused", revision.sha)
        except ReconcilerError as e:
            self.deployments.finish(deployment, "failed", [], [str(e)])
            log.error("reconcile of %s failed: %s", revision.sha[:12], e)
            return PassResult(deployment, "failed", revision.sha)
        crash_point(f"{trigger}.applied")  # Docker changed, the record still says running
        attempted = {a.name for a in outcome.prepared.plan.actions}
        self.backoff.record(outcome.result.failures, held, attempted)
        timings = {"fetch": fetch_seconds, **outcome.timings}
        return self._record(deployment, revision, trigger, outcome, timings, held)

    def _record(
        self,
        deployment: int,
        revision: Revision,
        trigger: str,
        outcome: Outcome,
        timings: dict[str, float],
        held: dict[str, str],
    ) -> PassResult:
        status = _status(outcome)
        self.stack = outcome.prepared.desired.stack
        self.self_heal = outcome.prepared.desired.self_heal
        last = {"at": now(), "status": status, "trigger": trigger, "revision": revision.sha}
        self.db.set_meta(LAST_RECONCILE, json.dumps(last))
        only_held = status == "failed" and set(outcome.result.failures) <= set(held)
        if (status == "noop" or only_held) and trigger in QUIET_TRIGGERS:
            # A routine check that changed nothing is not a deployment; history stays readable.
            self.deployments.discard(deployment)
            return PassResult(None, status, revision.sha)
        self.deployments.finish(
            deployment, status, _actions(outcome), _errors(outcome), stack=self.stack
        )
        if status in ("succeeded", "noop"):
            self.db.set_meta(LAST_GOOD, revision.sha)
        self.deployments.prune(keep=HISTORY_LIMIT)
        phases = " ".join(f"{phase}={seconds * 1000:.0f}ms" for phase, seconds in timings.items())
        observer = self.engine.observer
        source = observer.last_source if observer is not None else "direct"
        log.info(
            "deployment %d %s at %s (%s) %s observed=%s",
            deployment, status, revision.sha[:12], trigger, phases, source,
        )  # fmt: skip
        return PassResult(deployment, status, revision.sha)

    def _revision(self, trigger: str) -> Revision | None:
        pinned = self.db.get_meta(PINNED)
        try:
            if pinned:
                return self.mirror.checkout(pinned)
            if trigger in FETCHING_TRIGGERS or self.mirror.current() is None:
                revision = self.mirror.sync()
                self.db.set_meta(GIT_ERROR, None)
                return revision
            return self.mirror.current()
        except GitSyncError as e:
            # Degraded, not down: keep converging to what is checked out, and say why.
            self.db.set_meta(GIT_ERROR, str(e))
            log.warning("git sync failed, keeping the last good revision: %s", e)
            return self.mirror.current()

    def _restore_last_good(self) -> Revision | None:
        last_good = self.db.get_meta(LAST_GOOD)
        if not last_good:
            return None
        try:
            return self.mirror.checkout(last_good)
        except GitSyncError as e:
            log.error("cannot check out the last good revision %s: %s", last_good[:12], e)
            return None


def _status(outcome: Outcome) -> str:
    if not outcome.result.converged:
        return "failed"
    return "noop" if outcome.prepared.plan.empty else "succeeded"


def _actions(outcome: Outcome) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = plan_to_dict(outcome.prepared.plan)["actions"]
    for action in actions:
        name = action["name"]
        failure = outcome.result.failures.get(name)
        action["result"] = "failed" if failure else "succeeded"
        if failure:
            action["error"] = failure
    return actions


def _errors(outcome: Outcome) -> list[str]:
    return [f"{name}: {reason}" for name, reason in sorted(outcome.result.failures.items())]
