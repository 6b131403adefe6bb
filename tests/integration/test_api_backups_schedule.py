"""End to end: `reconciler run` as its own process runs a backup declared in the manifests on
its cron schedule (every minute), the API shows it, and the daemon stops cleanly on SIGTERM.

One test, about a minute long: the schedule's next minute boundary is at most 60 s away."""

from __future__ import annotations

import hashlib
import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.store.db import Database

from .support import (
    CLI,
    STACK_LABEL,
    api,
    cli,
    describe,
    new_stack_name,
    purge_stack,
    redis_backup_stack,
    redis_marks,
    wait_for,
)
from .test_api_harness import commit_stack

JOB = "cache-every-minute"
#: From the daemon's start: the next minute boundary, the first pass and the dump itself.
DEADLINE_SECONDS = 75


pytestmark = redis_marks()


def stack_doc(stack: str) -> dict[str, Any]:
    return redis_backup_stack(
        stack, {JOB: {"addon": "cache", "schedule": "* * * * *", "retention": 2}}
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Running:
    def __init__(self, root: Path, stack: str) -> None:
        self.root = root
        self.stack = stack
        self.state = root / "state"
        self.port = _free_port()
        self.log_path = root / "daemon.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.token = ""

    def start(self) -> None:
        created = cli("token", "create", "--name", "e2e", "--scopes",
                      "backups:read,deployments:read", "--state-dir", self.state)  # fmt: skip
        assert created.returncode == 0, describe(created)
        self.token = created.stdout.strip().splitlines()[0]
        args = ["run", "--repo", str(self.root / "repo"), "--state-dir", str(self.state),
                "--listen", f"127.0.0.1:{self.port}", "--interval", "1h"]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.started = time.monotonic()
            self.process = subprocess.Popen([*CLI, *args], stdout=log, stderr=subprocess.STDOUT)

    def get(self, path: str) -> Any:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the daemon exited early:\n{self.log()}")
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            headers={"Authorization": f"Bearer {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
                raise AssertionError(f"no clean stop within {timeout}s:\n{self.log()}") from None
        return int(self.process.returncode)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    stack = new_stack_name()
    commit_stack(tmp_path / "repo", stack_doc(stack))
    daemon = Running(tmp_path, stack)
    try:
        yield daemon
    finally:
        if daemon.process is not None and daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait(10)
        purge_stack(stack)


def _scheduled_backup(daemon: Running) -> dict[str, Any] | None:
    try:
        listed = daemon.get("/api/v1/backups?status=completed&limit=100")
    except (urllib.error.URLError, OSError):
        return None
    return next((b for b in listed["data"] if b["job"] == JOB), None)


def test_the_daemon_runs_a_scheduled_backup_and_stops_cleanly(running: Running) -> None:
    running.start()
    wait_for(lambda: running.get("/health"), 20, "the daemon to answer")
    record: dict[str, Any] = wait_for(
        lambda: _scheduled_backup(running),
        DEADLINE_SECONDS - (time.monotonic() - running.started),
        f"a completed backup by {JOB} (daemon log:\n{running.log()[-3000:]})",
        interval=0.5,
    )
    took = time.monotonic() - running.started
    assert took <= DEADLINE_SECONDS
    assert record["source"] == "cache" and record["engine"] == "redis"
    path = Path(record["path"])
    assert record["size"] == path.stat().st_size > 0
    assert hashlib.sha256(path.read_bytes()).hexdigest() == record["sha256"]
    doctor = running.get("/api/v1/system/doctor")
    jobs = {job["id"]: job for job in doctor["scheduler"]["jobs"]}
    job = jobs[f"{running.stack}:backup:{JOB}"]
    assert job["nextRun"] is not None

    assert running.stop() == 0
    log = running.log()
    assert "Traceback" not in log, log
    # Nothing left half-done: no running record, no helper container, no partial file.
    db = Database(running.state / "state.db")
    try:
        statuses = {str(row["status"]) for row in db.query("SELECT status FROM backups")}
    finally:
        db.close()
    assert "running" not in statuses, statuses
    helpers = api().containers(
        all=True,
        filters={"label": [f"{STACK_LABEL}={running.stack}", "io.reconciler.kind=backup"]},
    )
    assert helpers == []
    assert not list((running.state / "backups").rglob("*.partial"))
    print(f"scheduled backup completed {took:.1f} s after the daemon started")
