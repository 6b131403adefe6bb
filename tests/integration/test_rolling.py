"""Rolling updates: one replica at a time, new before old, and the old kept when the new is sick."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from .support import (
    BUSYBOX_1,
    BUSYBOX_2,
    FAST,
    SLEEP,
    TEMP_SUFFIX,
    apply_ok,
    cli,
    container_ids,
    containers,
    describe,
    image_id,
    write_stack,
)
from .support import engine_skip_reason as _skip_reason

if (_reason := _skip_reason()) is not None:
    pytest.skip(_reason, allow_module_level=True)

pytestmark = pytest.mark.docker


def app(image: str, check: list[str], replicas: int = 2) -> dict[str, Any]:
    return {
        "image": image, "command": SLEEP, "replicas": replicas, "update": "rolling",
        "healthcheck": {"command": check, **FAST},
    }  # fmt: skip


class Watcher(threading.Thread):
    """Lists the stack's containers every 50 ms while an apply runs, recording what it sees."""

    def __init__(self, stack: str) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.stop_event = threading.Event()
        self.max_temps = 0
        self.min_running: int | None = None
        self.temp_names: set[str] = set()

    def run(self) -> None:
        while not self.stop_event.is_set():
            live = containers(self.stack)
            temps = [c["Name"] for c in live if c["Name"].endswith(TEMP_SUFFIX)]
            running = sum(1 for c in live if c["State"] == "running")
            self.temp_names.update(temps)
            self.max_temps = max(self.max_temps, len(temps))
            self.min_running = (
                running if self.min_running is None else min(self.min_running, running)
            )
            time.sleep(0.05)

    def __enter__(self) -> Watcher:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop_event.set()
        self.join(timeout=10)


def test_rolling_update_replaces_one_replica_at_a_time(stack: str, repo: Path) -> None:
    write_stack(repo, stack, {"web": app(BUSYBOX_1, ["true"])})
    apply_ok(repo)
    before = container_ids(stack)
    assert sorted(before) == [f"{stack}-web-1", f"{stack}-web-2"]

    write_stack(repo, stack, {"web": app(BUSYBOX_2, ["true"])})
    with Watcher(stack) as watcher:
        result = apply_ok(repo)

    after = {c["Name"]: c for c in containers(stack)}
    assert sorted(after) == [f"{stack}-web-1", f"{stack}-web-2"]
    new_image = image_id(BUSYBOX_2)
    for name, container in after.items():
        assert container["Id"] != before[name], f"{name} was not replaced"
        assert container["ImageID"] == new_image
        assert container["State"] == "running"
    # One replica at a time, and the new one up before the old one goes: never below 2 running.
    assert watcher.max_temps == 1, watcher.temp_names
    assert watcher.temp_names <= {f"{stack}-web-1{TEMP_SUFFIX}", f"{stack}-web-2{TEMP_SUFFIX}"}
    assert watcher.min_running is not None and watcher.min_running >= 2
    out = result.stdout
    first_done = out.index(f"{stack}-web-1 replaced")
    second_start = out.index(f"replacing {stack}-web-2")
    assert first_done < second_start, out
    assert cli("plan", repo, "--detailed-exitcode").returncode == 0


def test_failed_healthcheck_keeps_the_old_replica(stack: str, repo: Path) -> None:
    write_stack(repo, stack, {"web": app(BUSYBOX_1, ["true"])})
    apply_ok(repo)
    before = container_ids(stack)

    write_stack(repo, stack, {"web": app(BUSYBOX_2, ["false"])})
    result = cli("apply", repo)
    assert result.returncode != 0, describe(result)
    assert "failed its healthcheck" in result.stderr, describe(result)
    assert f"kept the old {stack}-web-1" in result.stderr, describe(result)
    assert "web" in result.stderr and "did not converge" in result.stderr

    after = {c["Name"]: c for c in containers(stack)}
    assert {name: c["Id"] for name, c in after.items()} == before, "old replicas were not kept"
    old_image = image_id(BUSYBOX_1)
    for container in after.values():
        assert container["State"] == "running" and container["ImageID"] == old_image

    assert not any(name.endswith(TEMP_SUFFIX) for name in after)
    assert cli("plan", repo, "--detailed-exitcode").returncode == 2  # still pending
