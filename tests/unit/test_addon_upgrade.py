"""Major-version upgrades of add-ons (`upgrade: dumpRestore`): the pure half.

The data volume an add-on mounts follows the live container of its major (so adding the field,
or any same-major change, never moves an add-on onto an empty volume); a major change is refused
without the field and planned as one UPGRADE action with it; plans render it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.addons.spec import Credentials
from reconciler.api.resources import build_objects
from reconciler.backups.upgrade import UpgradeError, resolve_step
from reconciler.desired.build import build_desired
from reconciler.desired.datavolume import bind_data_volumes, choose_data_volume
from reconciler.desired.inputs import BuildInputs
from reconciler.manifests.models import Stack
from reconciler.plan.model import ActionType
from reconciler.plan.planner import make_plan
from reconciler.plan.render import plan_to_dict, plan_to_text
from reconciler.state import labels
from reconciler.state.errors import PlanError
from reconciler.state.model import DesiredStack, Kind, LiveContainer, LiveVolume, Observed

STACK = "shop"
BOTH = ("shop-db-data", "shop-db-data-17")


class FixedCredentials:
    def credentials(self, stack: str, addon: str, user: str, database: str) -> Credentials:
        return Credentials(user, "not-a-real-password", database)


def desired(version: str, upgrade: str | None = None, engine: str = "postgresql") -> DesiredStack:
    addon: dict[str, Any] = {"type": engine, "version": version}
    if upgrade is not None:
        addon["upgrade"] = upgrade
    doc = {
        "version": 1,
        "stack": STACK,
        "apps": {"api": {"image": "busybox:1", "addons": ["db"]}, "web": {"image": "busybox:1"}},
        "addons": {"db": addon},
    }
    return build_desired(Stack.model_validate(doc), "r1", BuildInputs(FixedCredentials()))


def live_from(stack: DesiredStack, name: str = "db", **overrides: Any) -> LiveContainer:
    """The container apply would have made from `stack`'s add-on (same hash, labels, mounts)."""
    workload = stack.workload(name)
    assert workload is not None
    spec = workload.replicas[0]
    fields: dict[str, Any] = {
        "id": "c0ffee",
        "name": spec.name,
        "kind": "addon",
        "owner": name,
        "replica": 1,
        "state": "running",
        "status": "Up 1 minute (healthy)",
        "image": spec.image,
        "image_id": "",
        "spec_hash": workload.spec_hash,
        "revision": "r1",
        "spec_doc": json.dumps(workload.spec_doc),
        "engine": dict(spec.user_labels)[labels.ENGINE],
        "version": dict(spec.user_labels)[labels.VERSION],
        "deletion_policy": "retain",
        "volumes": tuple(m.volume for m in spec.volumes),
    }
    return LiveContainer(**{**fields, **overrides})


def observed(*containers: LiveContainer, volumes: tuple[str, ...] = ()) -> Observed:
    mounted = {v for c in containers for v in c.volumes}
    return Observed(
        containers=containers,
        networks=(),
        volumes=tuple(LiveVolume(v) for v in sorted(mounted | set(volumes))),
    )


def plan(stack: DesiredStack, live: Observed) -> list[tuple[str, str]]:
    """The add-on's actions and volume creations (the apps are not deployed in these cases)."""
    bound = bind_data_volumes(stack, live)
    return [
        (a.action.value, a.name)
        for a in make_plan(bound, live, prune=False).actions
        if a.kind in (Kind.ADDON, Kind.VOLUME)
    ]


def data_volume(stack: DesiredStack, live: Observed) -> str:
    workload = bind_data_volumes(stack, live).workload("db")
    assert workload is not None
    return workload.replicas[0].volumes[0].volume


# --- choosing the data volume ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("major", "upgrade", "live", "volumes", "expected"),
    [
        # first deployment: the plain name, whatever the field says
        ("15", "refuse", None, (), ("shop-db-data", False)),
        ("17", "dumpRestore", None, (), ("shop-db-data", False)),
        # same major as the live server: the volume it mounts
        ("15", "dumpRestore", ("15", "shop-db-data"), (), ("shop-db-data", False)),
        ("17", "dumpRestore", ("17", "shop-db-data-17"), (), ("shop-db-data-17", False)),
        ("17", "refuse", ("17", "shop-db-data-17"), (), ("shop-db-data-17", False)),
        # another major: a fresh volume with dumpRestore, untouched otherwise (the plan refuses)
        ("17", "dumpRestore", ("15", "shop-db-data"), (), ("shop-db-data-17", True)),
        ("17", "refuse", ("15", "shop-db-data"), (), ("shop-db-data", False)),
        # no live container, an upgraded volume exists (replicas: 0, or killed mid-switch)
        (
            "17",
            "dumpRestore",
            None,
            ("shop-db-data", "shop-db-data-17"),
            ("shop-db-data-17", False),
        ),
        ("15", "dumpRestore", None, ("shop-db-data", "shop-db-data-17"), ("shop-db-data", False)),
    ],
)
def test_choose_data_volume(
    major: str,
    upgrade: str,
    live: tuple[str, str] | None,
    volumes: tuple[str, ...],
    expected: tuple[str, bool],
) -> None:
    got = choose_data_volume(STACK, "db", major, upgrade, live, frozenset(volumes))
    assert got == expected


def test_adding_dump_restore_without_a_version_change_keeps_the_volume_and_plans_nothing() -> None:
    before = desired("15")
    live = observed(live_from(before))
    after = desired("15", upgrade="dumpRestore")
    assert data_volume(after, live) == "shop-db-data"
    # Not hashed: the running add-on is current, nothing is recreated.
    assert plan(after, live) == []


def test_after_an_upgrade_the_new_volume_stays_bound_and_the_pass_is_a_no_op() -> None:
    upgraded = desired("17", upgrade="dumpRestore")
    first = observed(live_from(desired("15")))
    bound = bind_data_volumes(upgraded, first)
    live = observed(live_from(bound), volumes=("shop-db-data",))
    assert data_volume(upgraded, live) == "shop-db-data-17"
    assert plan(upgraded, live) == []
    # Dropping the field afterwards changes nothing either: same major, same volume.
    assert plan(desired("17"), live) == []
    assert "shop-db-data-17" in bind_data_volumes(upgraded, live).volumes


def test_a_major_change_without_dump_restore_is_refused_with_instructions() -> None:
    live = observed(live_from(desired("15")))
    with pytest.raises(PlanError, match="major-version change") as raised:
        plan(desired("17"), live)
    assert "upgrade: dumpRestore" in str(raised.value)


def test_a_major_change_with_dump_restore_is_one_upgrade_action() -> None:
    live = observed(live_from(desired("15")))
    stack = desired("17", upgrade="dumpRestore")
    bound = bind_data_volumes(stack, live)
    # The fresh volume is the upgrade's to create (with its journal), not the plan's.
    assert "shop-db-data-17" not in bound.volumes
    result = make_plan(bound, live, prune=False)
    upgrades = [a for a in result.actions if a.action is ActionType.UPGRADE]
    assert [a.name for a in upgrades] == ["db"]
    action = upgrades[0]
    assert action.dependents == ("api",)
    changes = {c.field: (c.before, c.after) for c in action.changes}
    assert changes == {
        "version": ("15", "17"),
        "dataVolume": ("shop-db-data", "shop-db-data-17"),
    }
    assert action.workload is not None
    assert action.workload.replicas[0].volumes[0].volume == "shop-db-data-17"
    text = plan_to_text(result)
    assert "^ upgrade addon db: major-version upgrade postgresql 15 → 17" in text
    assert "1 to upgrade" in text
    rendered = [a for a in plan_to_dict(result)["actions"] if a["action"] == "upgrade"]
    assert [a["name"] for a in rendered] == ["db"]
    assert {"field": "version", "from": "15", "to": "17"} in rendered[0]["changes"]


def test_an_engine_that_restores_only_offline_is_refused_before_anything_changes() -> None:
    live = observed(live_from(desired("6", engine="redis")))
    stack = desired("7", upgrade="dumpRestore", engine="redis")
    action = make_plan(bind_data_volumes(stack, live), live, prune=False).actions
    upgrade = next(a for a in action if a.action is ActionType.UPGRADE)
    with pytest.raises(UpgradeError, match="stopped server"):
        resolve_step(upgrade)


def test_an_upgrade_never_targets_the_volume_the_old_server_mounts() -> None:
    live = observed(live_from(desired("15")))
    unbound = desired("17", upgrade="dumpRestore")  # as if the binding step were skipped
    upgrade = next(
        a for a in make_plan(unbound, live, prune=False).actions if a.action is ActionType.UPGRADE
    )
    with pytest.raises(UpgradeError, match="no fresh data volume"):
        resolve_step(upgrade)


def test_the_api_reports_the_volume_the_upgraded_add_on_mounts() -> None:
    upgraded = desired("17", upgrade="dumpRestore")
    bound = bind_data_volumes(upgraded, observed(live_from(desired("15"))))
    live = (live_from(bound),)
    manifests = Stack.model_validate(
        {
            "version": 1,
            "stack": STACK,
            "addons": {"db": {"type": "postgresql", "version": "17", "upgrade": "dumpRestore"}},
        }
    )
    assert build_objects(upgraded, manifests, live)["addon"]["db"]["volume"] == "shop-db-data-17"
    before = (live_from(desired("15")),)
    assert (
        build_objects(desired("15"), manifests, before)["addon"]["db"]["volume"] == "shop-db-data"
    )
