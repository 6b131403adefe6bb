"""kill -9 mid webhook handling: a real `reconciler run` dies at each crash point of the webhook
path and of the pass a webhook triggers, then one restart converges.

Each case pushes an image change (busybox:1 -> :2) to an app with a volume, sends the signed
webhook, and lets RECONCILER_CRASH_AT kill the daemon with SIGKILL at one point. The daemon is
started again without it and must deploy the pushed commit with exactly the expected containers
(no duplicates, no `--next` leftovers, no orphans), the volume and its data intact, a history
with nothing stuck `running`, and a redelivery of the same delivery id answered as the crash left
it: queued again when the delivery was never remembered, a duplicate when it was.
"""

from __future__ import annotations

import io
import json
import signal
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from reconciler.state.faults import ENV

from .support import (
    BUSYBOX_1,
    BUSYBOX_2,
    STACK_LABEL,
    api,
    containers,
    engine_skip_reason,
    image_id,
    networks_named,
    wait_for,
)
from .test_daemon import Daemon, World, _sign

pytestmark = [pytest.mark.docker]
if reason := engine_skip_reason():
    pytestmark.append(pytest.mark.skip(reason=reason))

DELIVERY = "crash-delivery-1"
BODY = json.dumps({"ref": "refs/heads/main"}).encode()
#: Writes who was first into the volume, once: a later container finding it proves the data kept.
FIRST_WRITER = ["sh", "-c", "[ -s /data/born ] || echo $HOSTNAME > /data/born; exec sleep 3600"]


@dataclass(frozen=True)
class Case:
    point: str
    answered: bool  # the 202 went out before the process died
    redelivery: str  # what a redelivery after the restart is answered
    left_running: bool  # a deployment record was left `running` by the kill
    applied: bool  # Docker already runs the new image when the process dies


CASES = [
    Case("webhook.verified", answered=False, redelivery="queued", left_running=False,
         applied=False),
    Case("webhook.queued", answered=False, redelivery="queued", left_running=False,
         applied=False),
    Case("webhook.recorded", answered=False, redelivery="duplicate", left_running=False,
         applied=False),
    Case("webhook.fetched", answered=True, redelivery="duplicate", left_running=False,
         applied=False),
    Case("webhook.started", answered=True, redelivery="duplicate", left_running=True,
         applied=False),
    Case("webhook.applied", answered=True, redelivery="duplicate", left_running=True,
         applied=True),
]  # fmt: skip


@pytest.fixture
def world(tmp_path: Path, stack: str) -> Iterator[World]:
    w = World(tmp_path, stack)
    yield w
    w.stop_all()


def _app(image: str) -> dict[str, Any]:
    return {"image": image, "command": FIRST_WRITER, "volumes": {"data": "/data"}}


def _deliver(daemon: Daemon) -> tuple[int, str] | None:
    """Send the signed push delivery; None when the process died before answering."""
    headers = {"X-Hub-Signature-256": _sign(BODY), "X-GitHub-Delivery": DELIVERY}
    try:
        status, answer = daemon.post("/api/v1/webhooks/github", BODY, headers)
    except OSError:  # the connection was reset or closed unanswered: the kill came first
        return None
    return status, str(answer.get("status"))


def _marker(container: str) -> str:
    """The first writer recorded in the volume (read through the engine's archive API)."""
    try:
        stream, _ = api().get_archive(container, "/data/born")
    except docker.errors.NotFound:
        return ""
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.extractfile("born")
        return member.read().decode().strip() if member else ""


def _triples(daemon: Daemon) -> list[tuple[str, str, str]]:
    """(trigger, status, revision) of every deployment, oldest first."""
    return [(d["trigger"], d["status"], d["revision"]) for d in reversed(daemon.history())]


def _assert_left_behind(world: World, daemon: Daemon, case: Case, second: str) -> None:
    """What the kill left: proves each case really died where it says it did."""
    live = containers(world.stack)
    assert [c["Name"] for c in live] == [f"{world.stack}-web-1"], live
    expected = BUSYBOX_2 if case.applied else BUSYBOX_1
    assert live[0]["ImageID"] == image_id(expected), case
    running = [d for d in daemon.history() if d["status"] == "running"]
    assert [(d["trigger"], d["revision"]) for d in running] == (
        [("webhook", second)] if case.left_running else []
    )


def _assert_converged(stack: str, born: str, volume: dict[str, Any]) -> None:
    """One container on the new image, nothing else of the stack, the volume and its data kept."""
    name = f"{stack}-web-1"
    live = containers(stack)
    assert [(c["Name"], c["State"]) for c in live] == [(name, "running")], live
    assert live[0]["ImageID"] == image_id(BUSYBOX_2)
    # No orphans without our label either: everything named like the stack is ours.
    named = api().containers(all=True, filters={"name": f"{stack}-"})
    assert sorted(c["Names"][0].lstrip("/") for c in named) == [name]
    volumes = api().volumes(filters={"label": [f"{STACK_LABEL}={stack}"]})["Volumes"] or []
    assert [v["Name"] for v in volumes] == [volume["Name"]]
    assert api().inspect_volume(volume["Name"])["CreatedAt"] == volume["CreatedAt"]
    assert _marker(name) == born, "the volume's data must survive the kill and the replacement"
    assert len(networks_named(f"{stack}-net")) == 1


def _expected_history(case: Case, first: str, second: str) -> list[tuple[str, str, str]]:
    history = [("startup", "succeeded", first)]
    if case.left_running:
        history.append(("webhook", "failed", second))  # marked interrupted at the restart
    history.append(("startup", "noop" if case.applied else "succeeded", second))
    if case.redelivery == "queued":
        history.append(("webhook", "noop", second))
    return history


def _wait_for_history(daemon: Daemon, expected: list[tuple[str, str, str]]) -> None:
    try:
        wait_for(lambda: _triples(daemon) == expected, 30, "the expected history")
    except AssertionError:
        assert _triples(daemon) == expected  # shows the difference
        raise


@pytest.mark.parametrize("case", CASES, ids=[case.point for case in CASES])
def test_kill_9_mid_webhook_then_one_restart_converges(world: World, case: Case) -> None:
    first = world.push({"web": _app(BUSYBOX_1)}, "first")
    daemon = world.start(env={ENV: case.point})
    wait_for(lambda: daemon.health()["revision"] == first, 30, "the first deployment")
    born = wait_for(lambda: _marker(f"{world.stack}-web-1"), 10, "the first writer's marker")
    volume = api().inspect_volume(f"{world.stack}-web-data")

    second = world.push({"web": _app(BUSYBOX_2)}, "second")
    answer = _deliver(daemon)
    assert answer == ((202, "queued") if case.answered else None), answer
    assert daemon.process.wait(timeout=60) == -signal.SIGKILL, daemon.log()
    _assert_left_behind(world, daemon, case, second)

    restarted = world.start()  # no crash point: the one further pass is the startup pass
    wait_for(lambda: restarted.health()["revision"] == second, 60, "the pushed commit deployed")
    redelivered = _deliver(restarted)
    assert redelivered == (202 if case.redelivery == "queued" else 200, case.redelivery)
    _wait_for_history(restarted, _expected_history(case, first, second))

    _assert_converged(world.stack, born, volume)
    interrupted = [d for d in restarted.history() if d["status"] == "failed"]
    for deployment in interrupted:
        assert deployment["errors"] == [
            "interrupted: the reconciler stopped during this deployment"
        ]
        assert deployment["finishedAt"], "an interrupted deployment is finished, not running"
    assert _deliver(restarted) == (200, "duplicate"), "remembered now that its pass ran"
