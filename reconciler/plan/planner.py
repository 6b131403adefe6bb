"""Pair desired workloads with live containers and decide, per workload, what must change."""

from __future__ import annotations

from collections import defaultdict

from reconciler.addons.catalog import CATALOG
from reconciler.addons.spec import Engine
from reconciler.plan.diff import field_changes, parse_spec_label
from reconciler.plan.model import Action, ActionType, FieldChange, Plan
from reconciler.state import labels
from reconciler.state.errors import PlanError
from reconciler.state.model import (
    DesiredStack,
    Kind,
    LiveContainer,
    Observed,
    UpdateStrategy,
    Workload,
)

#: The add-on `upgrade` value that turns a major-version change into an UPGRADE action.
DUMP_RESTORE = "dumpRestore"
#: Docker itself is already restarting a crashed container; replacing it would only fight that.
RUNNING_STATES = frozenset({"running", "restarting"})
WORKLOAD_KINDS = frozenset({Kind.APP.value, Kind.ADDON.value})


def make_plan(desired: DesiredStack, observed: Observed, *, prune: bool | None = None) -> Plan:
    """Actions that make `observed` match `desired`: infrastructure, then workloads, then deletes.

    Pure: no I/O, the same inputs always give the same plan.
    """
    prune = desired.prune if prune is None else prune
    check_upgrades(desired, observed)
    by_owner: dict[tuple[str, str], list[LiveContainer]] = defaultdict(list)
    for container in observed.containers:
        by_owner[(container.kind, container.owner)].append(container)

    actions: list[Action] = []
    if desired.network not in {network.name for network in observed.networks}:
        actions.append(Action(ActionType.CREATE, Kind.NETWORK, desired.network, "missing"))
    live_volumes = {volume.name for volume in observed.volumes}
    for volume in desired.volumes:
        if volume not in live_volumes:
            actions.append(Action(ActionType.CREATE, Kind.VOLUME, volume, "missing"))

    for workload in desired.workloads:
        live = tuple(sorted(by_owner.pop((workload.kind.value, workload.name), []), key=_by_name))
        action = plan_upgrade(workload, live, desired) or plan_workload(workload, live, observed)
        if action is not None:
            actions.append(action)

    if prune:
        for (kind, owner), leftover in sorted(by_owner.items(), reverse=True):
            # A kind label this version does not know (hand-made, or from a newer reconciler):
            # leave it alone rather than fail the whole plan.
            if kind in WORKLOAD_KINDS:
                actions.append(_delete_action(Kind(kind), owner, leftover))
    return Plan(desired.stack, desired.revision, tuple(actions))


def _delete_action(kind: Kind, owner: str, leftover: list[LiveContainer]) -> Action:
    doomed = tuple(sorted(leftover, key=_by_name))
    # Data goes only where its owner opted in; the label records the choice made at create.
    volumes = sorted({v for c in doomed if c.deletion_policy == "delete" for v in c.volumes})
    reason = "no longer declared" + (
        "; its data volume goes too (deletionPolicy: delete)" if volumes else ""
    )
    return Action(
        ActionType.DELETE, kind, owner, reason, live=doomed, delete_volumes=tuple(volumes)
    )


def check_mass_deletion(plan: Plan, observed: Observed, *, allowed: bool) -> None:
    """Refuse plans that delete everything, or more than half of what runs (Argo's guard)."""
    live = {(c.kind, c.owner) for c in observed.containers}
    doomed = [a for a in plan.actions if a.action is ActionType.DELETE]
    if allowed or not doomed:
        return
    if len(doomed) == len(live) or 2 * len(doomed) > len(live):
        names = ", ".join(sorted(a.name for a in doomed))
        raise PlanError(
            f"refusing to delete {len(doomed)} of {len(live)} managed workload(s) ({names}); "
            "if that is intended, set settings.allowMassDeletion: true or pass "
            "--allow-mass-deletion"
        )


def check_upgrades(desired: DesiredStack, observed: Observed) -> None:
    """Refuse in-place major-version changes of add-ons: their data format would not follow.

    With `upgrade: dumpRestore` (and an engine that can dump and restore) the change is planned
    as an UPGRADE action instead (see plan_upgrade)."""
    problems = []
    for workload in desired.workloads:
        if workload.kind is not Kind.ADDON or not workload.replicas:
            continue
        engine, wanted = _engine_and_version(workload)
        for container in observed.containers:
            if container.kind != Kind.ADDON.value or container.owner != workload.name:
                continue
            if (
                engine
                and container.version
                and engine.major_of(container.version) != (engine.major_of(wanted))
            ):
                problem = _upgrade_problem(workload, engine, container.version, wanted)
                if problem:
                    problems.append(problem)
                break
    if problems:
        raise PlanError("; ".join(problems))


def _engine_and_version(workload: Workload) -> tuple[Engine | None, str]:
    spec_labels = dict(workload.replicas[0].user_labels)
    return CATALOG.get(spec_labels.get(labels.ENGINE, "")), spec_labels.get(labels.VERSION, "")


def _upgrade_problem(workload: Workload, engine: Engine, current: str, wanted: str) -> str | None:
    """Why this major-version change cannot go ahead, or None when dumpRestore will do it."""
    if workload.upgrade == DUMP_RESTORE:
        if engine.backup_command and engine.restore_command:
            return None
        return (
            f"add-on {workload.name}: {engine.name} {current} → {wanted} is a major-version "
            f"change, and {engine.name} has no dump and restore commands for upgrade: "
            "dumpRestore; keep the version, or migrate by hand"
        )
    return (
        f"add-on {workload.name}: {engine.name} {current} → {wanted} is a major-version "
        f"change, which cannot run on the existing data. Migrate with a "
        f"dump and restore: keep version {current}, take a backup, declare a "
        f"new add-on with version {wanted}, restore the backup into it, then move apps "
        "(or set upgrade: dumpRestore on the add-on to have apply do this)"
    )


def plan_upgrade(
    workload: Workload, live: tuple[LiveContainer, ...], desired: DesiredStack
) -> Action | None:
    """An UPGRADE action when the live add-on runs another major and dumpRestore is declared."""
    if workload.kind is not Kind.ADDON or not workload.replicas or workload.upgrade != DUMP_RESTORE:
        return None
    engine, wanted = _engine_and_version(workload)
    # The add-on's own name first: a pass killed at the end of an upgrade leaves the old
    # server renamed beside the new one, and the new one decides.
    own = [c for c in live if c.name == workload.replicas[0].name and c.version]
    current = next(iter(own or [c for c in live if c.replaces is None and c.version]), None)
    if engine is None or current is None:
        return None
    if engine.major_of(current.version) == engine.major_of(wanted):
        return None
    target = workload.replicas[0].volumes[0].volume if workload.replicas[0].volumes else ""
    source = next((v for v in current.volumes if v != target), "")
    changes = (
        FieldChange("version", current.version, wanted),
        FieldChange("dataVolume", source, target),
    )
    reason = (
        f"major-version upgrade {engine.name} {current.version} → {wanted} by dump and restore "
        f"(upgrade: dumpRestore); {source or 'the old volume'} is kept"
    )
    dependents = tuple(
        w.name for w in desired.workloads if w.kind is Kind.APP and workload.name in w.depends_on
    )
    return Action(
        ActionType.UPGRADE, workload.kind, workload.name, reason, changes,
        workload=workload, live=live, depends_on=workload.depends_on, dependents=dependents,
    )  # fmt: skip


def _by_name(container: LiveContainer) -> str:
    return container.name


def plan_workload(
    workload: Workload, live: tuple[LiveContainer, ...], observed: Observed
) -> Action | None:
    """The one action (or none) that converges a workload, with every reason it is needed."""
    if not live:
        if not workload.replicas:
            return None
        created = (FieldChange("replicas", 0, len(workload.replicas)),)
        return Action(
            ActionType.CREATE, workload.kind, workload.name, "not deployed", created,
            workload=workload, depends_on=workload.depends_on,
        )  # fmt: skip
    reasons: list[str] = []
    changes: list[FieldChange] = []
    replace = False
    wanted = {spec.name for spec in workload.replicas}
    leftovers = [c.name for c in live if c.replaces is not None]
    if leftovers:
        reasons.append(f"interrupted replacement left behind: {', '.join(leftovers)}")
        replace = True
    current = [c for c in live if c.replaces is None and c.name in wanted]
    outdated = [c for c in current if c.spec_hash != workload.spec_hash]
    if outdated:
        changes += field_changes(parse_spec_label(outdated[0].spec_doc), workload.spec_doc)
        fields = ", ".join(sorted({change.field.split(".")[0] for change in changes}))
        # Same fields, other hash: a secret value changed (only its keyed digest is hashed).
        reasons.append(f"spec changed ({fields or 'secret values or hash label'})")
        replace = True
    image_id = observed.image_id(workload.replicas[0].image) if workload.replicas else None
    moved = [c for c in current if c not in outdated and image_id and c.image_id != image_id]
    if moved:
        reasons.append(f"image {workload.replicas[0].image} now points to {image_id}")
        changes.append(FieldChange("imageId", moved[0].image_id, image_id))
        replace = True
    stopped = [c for c in current if c.state not in RUNNING_STATES]
    if stopped:
        states = ", ".join(f"{c.name} is {c.state}" for c in stopped)
        reasons.append(f"not running ({states})")
        replace = True
    live_replicas = len({c.name for c in live if c.replaces is None})
    scale_reason = _scale_reason(workload, live, wanted)
    if scale_reason:
        reasons.append(scale_reason)
        changes.append(FieldChange("replicas", live_replicas, len(workload.replicas)))
    if not reasons:
        return None
    if replace:
        kind = (
            ActionType.RECREATE if workload.update is UpdateStrategy.RECREATE else ActionType.UPDATE
        )
    else:
        kind = ActionType.SCALE
    to_replace = tuple(sorted({c.name for c in (*outdated, *moved, *stopped)}))
    return Action(
        kind, workload.kind, workload.name, "; ".join(reasons), tuple(changes),
        workload=workload, live=live, replace=to_replace, depends_on=workload.depends_on,
    )  # fmt: skip


def _scale_reason(workload: Workload, live: tuple[LiveContainer, ...], wanted: set[str]) -> str:
    names = {c.name for c in live if c.replaces is None}
    missing = sorted(wanted - names)
    extra = sorted(names - wanted)
    if not missing and not extra:
        return ""
    return f"replicas {len(names)} → {len(workload.replicas)}"
