"""An apply killed with SIGKILL mid-way is repaired by the next apply: no duplicates, no orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.engine import Engine
from reconciler.observed.docker_adapter import DockerSdkPort
from reconciler.state.faults import ENV as CRASH_AT

from .support import (
    BUSYBOX_1,
    BUSYBOX_2,
    CLI,
    FAST,
    SLEEP,
    TEMP_SUFFIX,
    api,
    apply_ok,
    cli,
    containers,
    image_id,
    networks_named,
    write_stack,
)
from .support import engine_skip_reason as _skip_reason

if (_reason := _skip_reason()) is not None:
    pytest.skip(_reason, allow_module_level=True)

pytestmark = pytest.mark.docker


def app(image: str, replicas: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "image": image, "command": SLEEP, "replicas": replicas,
        "healthcheck": {"command": ["true"], **FAST}, **extra,
    }  # fmt: skip


def kill_apply_when(
    repo: Path, seen: Callable[[list[dict[str, Any]]], bool], stack: str, timeout: float = 60
) -> None:
    """Run `reconciler apply` and SIGKILL it as soon as `seen(containers)` holds."""
    process = subprocess.Popen(
        [*CLI, "apply", str(repo)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + timeout
        while not seen(containers(stack)):
            assert process.poll() is None, "apply finished before the kill point was reached"
            assert time.monotonic() < deadline, "kill point never reached"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL


def assert_converged(repo: Path, stack: str, expected: dict[str, str]) -> None:
    """Exactly the expected containers (name → image), all running, nothing left to do."""
    live = containers(stack)
    names = [c["Name"] for c in live]
    assert sorted(names) == sorted(expected), names
    for container in live:
        assert container["State"] == "running", container["Name"]
        assert container["ImageID"] == image_id(expected[container["Name"]]), container["Name"]
    assert len(networks_named(f"{stack}-net")) == 1
    plan = cli("plan", repo, "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout


@pytest.mark.parametrize("kill_at", [1, 2], ids=["first-replica", "second-replica"])
def test_kill_during_rolling_update(stack: str, repo: Path, kill_at: int) -> None:
    write_stack(repo, stack, {"web": app(BUSYBOX_1, replicas=2)})
    apply_ok(repo)

    write_stack(repo, stack, {"web": app(BUSYBOX_2, replicas=2)})
    temp = f"{stack}-web-{kill_at}{TEMP_SUFFIX}"
    kill_apply_when(repo, lambda live: any(c["Name"] == temp for c in live), stack)
    leftover = [c["Name"] for c in containers(stack) if c["Name"].endswith(TEMP_SUFFIX)]
    assert leftover, "the kill left no half-done replacement behind; the test proves nothing"

    apply_ok(repo)
    assert_converged(repo, stack, {f"{stack}-web-1": BUSYBOX_2, f"{stack}-web-2": BUSYBOX_2})


def test_kill_during_cold_create(stack: str, repo: Path) -> None:
    # A chain, so the apply is still busy with later apps when the first container appears.
    apps = {
        "a": app(BUSYBOX_1, volumes={"data": "/data"}),
        "b": app(BUSYBOX_1, replicas=2, dependsOn=["a"]),
        "c": app(BUSYBOX_1, dependsOn=["b"]),
        "d": app(BUSYBOX_1),
    }
    write_stack(repo, stack, apps)
    kill_apply_when(repo, lambda live: len(live) >= 1, stack)
    assert len(containers(stack)) < 5, "apply finished before the kill"

    apply_ok(repo)
    expected = ["a-1", "b-1", "b-2", "c-1", "d-1"]
    assert_converged(repo, stack, {f"{stack}-{n}": BUSYBOX_1 for n in expected})


class Crash(BaseException):
    """Stands in for SIGKILL in-process: no `except ReconcilerError` handler can catch it."""


class CrashingPort:
    """The real port, except that the process 'dies' right after the first `crash_after` call."""

    def __init__(self, inner: DockerSdkPort, crash_after: str) -> None:
        self._inner = inner
        self._crash_after = crash_after

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if name != self._crash_after:
            return target

        def then_crash(*args: Any, **kwargs: Any) -> Any:
            target(*args, **kwargs)
            raise Crash(name)

        return then_crash


@pytest.mark.parametrize("crash_after", ["create_container", "start", "stop", "remove", "rename"])
def test_crash_at_every_step_of_a_replacement(stack: str, repo: Path, crash_after: str) -> None:
    """Deterministic companion of the kill -9 tests: die right after each Docker call of a
    rolling replacement (create new, start new, stop old, remove old, rename new), then re-apply."""
    plain = {"image": BUSYBOX_1, "command": SLEEP, "update": "rolling"}
    write_stack(repo, stack, {"web": plain})
    assert Engine(DockerSdkPort()).reconcile(repo).result.converged

    write_stack(repo, stack, {"web": {**plain, "image": BUSYBOX_2}})
    with pytest.raises(Crash):
        Engine(CrashingPort(DockerSdkPort(), crash_after)).reconcile(repo)  # type: ignore[arg-type,unused-ignore]

    outcome = Engine(DockerSdkPort()).reconcile(repo)
    assert outcome.result.converged, outcome.result.failures
    assert_converged(repo, stack, {f"{stack}-web-1": BUSYBOX_2})


@pytest.mark.parametrize(
    "crash_after", ["create_network", "create_volume", "create_container", "start"]
)
def test_crash_at_every_step_of_a_cold_create(stack: str, repo: Path, crash_after: str) -> None:
    write_stack(repo, stack, {
        "a": {"image": BUSYBOX_1, "command": SLEEP, "volumes": {"data": "/data"}},
        "b": {"image": BUSYBOX_1, "command": SLEEP, "replicas": 2, "dependsOn": ["a"]},
    })  # fmt: skip
    with pytest.raises(Crash):
        Engine(CrashingPort(DockerSdkPort(), crash_after)).reconcile(repo)  # type: ignore[arg-type,unused-ignore]

    outcome = Engine(DockerSdkPort()).reconcile(repo)
    assert outcome.result.converged, outcome.result.failures
    expected = ("a-1", "b-1", "b-2")
    assert_converged(repo, stack, {f"{stack}-{n}": BUSYBOX_1 for n in expected})


def sh_in(container: str, script: str) -> str:
    created = api().exec_create(container, ["sh", "-c", script])
    return str(api().exec_start(created["Id"]).decode()).strip()


@pytest.mark.parametrize(
    "point", ["replace.created", "replace.started", "replace.old-stopped", "replace.old-removed"]
)
def test_sigkill_at_each_step_of_a_replacement(stack: str, repo: Path, point: str) -> None:
    """A real `reconciler apply` process SIGKILLs itself at each step of a rolling replacement
    (RECONCILER_CRASH_AT): between create and start, after the new replica is up and before the
    old one stops, between stop and remove, between remove and rename. One more apply
    converges: no duplicate, no `--next` leftover, and the volume's data is still there."""
    plain = {
        "image": BUSYBOX_1, "command": SLEEP, "update": "rolling",
        "volumes": {"data": "/data"}, "healthcheck": {"command": ["true"], **FAST},
    }  # fmt: skip
    write_stack(repo, stack, {"web": plain})
    apply_ok(repo)
    sh_in(f"{stack}-web-1", "echo survived > /data/marker")

    write_stack(repo, stack, {"web": {**plain, "image": BUSYBOX_2}})
    killed = cli("apply", repo, env={CRASH_AT: point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    apply_ok(repo)
    assert_converged(repo, stack, {f"{stack}-web-1": BUSYBOX_2})
    assert sh_in(f"{stack}-web-1", "cat /data/marker") == "survived"
    volumes = api().volumes(filters={"label": [f"io.reconciler.stack={stack}"]})["Volumes"]
    assert [v["Name"] for v in volumes] == [f"{stack}-web-data"]


def test_sigkill_between_create_and_start_of_a_cold_create(stack: str, repo: Path) -> None:
    write_stack(repo, stack, {
        "a": {"image": BUSYBOX_1, "command": SLEEP, "volumes": {"data": "/data"}},
        "b": {"image": BUSYBOX_1, "command": SLEEP, "replicas": 2, "dependsOn": ["a"]},
    })  # fmt: skip
    killed = cli("apply", repo, env={CRASH_AT: "create.created"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert [c["State"] for c in containers(stack)] == ["created"]  # made, never started

    apply_ok(repo)
    expected = ("a-1", "b-1", "b-2")
    assert_converged(repo, stack, {f"{stack}-{n}": BUSYBOX_1 for n in expected})
