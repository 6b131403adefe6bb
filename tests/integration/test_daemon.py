"""The daemon end to end: a bare git repo, `reconciler run` as a real process, the real engine.

Push and see it converge; signed webhooks trigger at once, bad ones nothing; an invalid commit is
refused while the last good revision keeps running; drift is healed; kill -9 mid-apply and a
restart converge with no duplicates; a second daemon on the same state directory refuses to run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .support import (
    BUSYBOX_1,
    CLI,
    SLEEP,
    TEMP_SUFFIX,
    api,
    cli,
    containers,
    engine_skip_reason,
    git,
    wait_for,
    write_stack,
)

pytestmark = [pytest.mark.docker]
if reason := engine_skip_reason():
    pytestmark.append(pytest.mark.skip(reason=reason))

SECRET = "it-webhook-secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Daemon:
    process: subprocess.Popen[str]
    port: int
    state_dir: Path
    log_path: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(self.url(path), data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status), json.loads(response.read())
        except urllib.error.HTTPError as e:
            return int(e.code), json.loads(e.read() or b"{}")

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url("/health"), timeout=5) as response:
            return dict(json.loads(response.read()))

    def history(self) -> list[dict[str, Any]]:
        result = cli("history", "--json", "--limit", "50", "--state-dir", self.state_dir)
        assert result.returncode == 0, result.stderr
        return list(json.loads(result.stdout))

    def log(self) -> str:
        return self.log_path.read_text()


class World:
    """A bare origin, a working clone that pushes to it, and daemons that follow it."""

    def __init__(self, root: Path, stack: str) -> None:
        self.root = root
        self.stack = stack
        self.origin = root / "origin.git"
        self.work = root / "work"
        self.daemons: list[Daemon] = []
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(self.origin)], check=True)
        self.work.mkdir()
        git(self.work, "init", "-q", "-b", "main")
        git(self.work, "remote", "add", "origin", str(self.origin))

    def push(self, apps: dict[str, dict[str, Any]], message: str, raw: str | None = None) -> str:
        if raw is None:
            write_stack(self.work, self.stack, apps)
        else:
            (self.work / "stack.yaml").write_text(raw)
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", message)
        git(self.work, "push", "-q", "origin", "main")
        return git(self.work, "rev-parse", "HEAD")

    def start(
        self, interval: str = "300s", state: str = "state", env: Mapping[str, str] | None = None
    ) -> Daemon:
        port = _free_port()
        state_dir = self.root / state
        log_path = self.root / f"daemon-{len(self.daemons)}.log"
        args = ["run", "--repo", str(self.origin), "--state-dir", str(state_dir)]
        args += ["--listen", f"127.0.0.1:{port}", "--interval", interval]
        full_env = {**os.environ, "RECONCILER_WEBHOOK_SECRET": SECRET, **(env or {})}
        handle = log_path.open("w")
        process = subprocess.Popen(
            [*CLI, *args], stdout=handle, stderr=subprocess.STDOUT, env=full_env, text=True
        )
        daemon = Daemon(process, port, state_dir, log_path)
        self.daemons.append(daemon)
        wait_for(lambda: _answers(daemon), 20, "the daemon to listen")
        return daemon

    def stop_all(self) -> None:
        for daemon in self.daemons:
            if daemon.process.poll() is None:
                daemon.process.send_signal(signal.SIGTERM)
                try:
                    daemon.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    daemon.process.kill()


def _answers(daemon: Daemon) -> bool:
    if daemon.process.poll() is not None:
        raise AssertionError(f"daemon exited early:\n{daemon.log()}")
    try:
        daemon.health()
    except OSError:
        return False
    return True


@pytest.fixture
def world(tmp_path: Path, stack: str) -> Iterator[World]:
    w = World(tmp_path, stack)
    yield w
    w.stop_all()


def _app(env_value: str) -> dict[str, Any]:
    return {"image": BUSYBOX_1, "command": SLEEP, "env": {"V": env_value}}


def _env_of(name: str) -> list[str]:
    return list(api().inspect_container(name)["Config"]["Env"])


def _sign(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def test_push_then_poll_converges(world: World) -> None:
    world.push({"web": _app("1")}, "first")
    daemon = world.start(interval="1s")
    name = f"{world.stack}-web-1"
    wait_for(lambda: [c for c in containers(world.stack) if c["State"] == "running"], 30, "web")
    sha = world.push({"web": _app("2")}, "second")
    wait_for(lambda: "V=2" in _env_of(name), 30, "the poll to roll out V=2")
    wait_for(lambda: daemon.health()["revision"] == sha, 10, "health to show the new revision")
    assert [d["status"] for d in daemon.history()][:2] == ["succeeded", "succeeded"]


def test_signed_webhook_triggers_and_bad_ones_do_nothing(world: World) -> None:
    world.push({"web": _app("1")}, "first")
    daemon = world.start()  # polls every 300 s: only the webhook can make it move now
    name = f"{world.stack}-web-1"
    wait_for(lambda: containers(world.stack), 30, "the first deployment")
    world.push({"web": _app("2")}, "second")
    body = json.dumps({"ref": "refs/heads/main"}).encode()

    status, answer = daemon.post(
        "/api/v1/webhooks/github", body, {"X-Hub-Signature-256": "sha256=00"}
    )
    assert status == 401 and answer["error"]["code"] == "unauthorized"
    status, _ = daemon.post("/api/v1/webhooks/github", body, {})
    assert status == 401
    time.sleep(1.5)
    assert "V=1" in _env_of(name), "a badly signed webhook must trigger nothing"

    other = json.dumps({"ref": "refs/heads/feature"}).encode()
    status, answer = daemon.post(
        "/api/v1/webhooks/github", other, {"X-Hub-Signature-256": _sign(other)}
    )
    assert status == 200 and answer["status"] == "ignored"
    status, answer = daemon.post(
        "/api/v1/webhooks/github",
        b"{}",
        {"X-Hub-Signature-256": _sign(b"{}"), "X-GitHub-Event": "ping"},
    )
    assert (status, answer["status"]) == (200, "pong")

    headers = {"X-Hub-Signature-256": _sign(body), "X-GitHub-Delivery": "d-1"}
    status, answer = daemon.post("/api/v1/webhooks/github", body, headers)
    assert (status, answer["status"]) == (202, "queued")
    wait_for(lambda: "V=2" in _env_of(name), 30, "the webhook's reconcile")
    status, answer = daemon.post("/api/v1/webhooks/github", body, headers)
    assert answer["status"] == "duplicate", "a replayed delivery must trigger nothing"
    triggers = [d["trigger"] for d in daemon.history()]
    assert triggers.count("webhook") == 1, triggers


def test_invalid_commit_is_refused_and_last_good_keeps_running(world: World) -> None:
    good = world.push({"web": _app("1")}, "good")
    daemon = world.start(interval="1s")
    wait_for(lambda: daemon.health()["revision"] == good, 30, "the good revision")
    before = {c["Name"]: c["Id"] for c in containers(world.stack)}
    bad_yaml = (
        f"version: 1\nstack: {world.stack}\napps:\n  web:\n"
        f"    image: {BUSYBOX_1}\n    replicas: lots\n"
    )
    bad = world.push({}, "broken", raw=bad_yaml)
    refused = wait_for(
        lambda: [d for d in daemon.history() if d["revision"] == bad and d["status"] == "refused"],
        30,
        "the refusal",
    )
    assert "stack.yaml:6:" in refused[0]["errors"][0] and "replicas" in refused[0]["errors"][0]
    time.sleep(2.5)  # more polls: still refused once, still running the good revision
    assert len([d for d in daemon.history() if d["revision"] == bad]) == 1
    assert {c["Name"]: c["Id"] for c in containers(world.stack)} == before
    assert daemon.health()["revision"] == good


def test_drift_is_healed(world: World) -> None:
    world.push({"web": _app("1")}, "first")
    world.start()
    name = f"{world.stack}-web-1"
    first = wait_for(
        lambda: [c for c in containers(world.stack) if c["State"] == "running"], 30, "web"
    )
    api().remove_container(name, force=True)
    healed = wait_for(
        lambda: [
            c
            for c in containers(world.stack)
            if c["State"] == "running" and c["Id"] != first[0]["Id"]
        ],
        20,
        "the removed container to come back",
    )
    assert [c["Name"] for c in healed] == [name]
    api().stop(name, timeout=1)
    wait_for(
        lambda: [c for c in containers(world.stack) if c["State"] == "running"], 20, "a restart"
    )


def test_kill_9_mid_apply_then_restart_converges(world: World) -> None:
    apps = {f"app{i}": _app(str(i)) for i in range(4)}
    world.push(apps, "first")
    daemon = world.start()
    wait_for(
        lambda: len([c for c in containers(world.stack) if c["State"] == "running"]) == 4,
        60,
        "4 apps",
    )
    world.push({name: _app("changed") for name in apps}, "change all")
    body = b'{"ref": "refs/heads/main"}'
    daemon.post("/api/v1/webhooks/generic", body, {"X-Signature-256": _sign(body)})
    wait_for(
        lambda: any(c["Name"].endswith(TEMP_SUFFIX) for c in containers(world.stack)),
        30,
        "a replacement in flight",
        interval=0.02,
    )
    daemon.process.kill()
    daemon.process.wait(timeout=10)
    restarted = world.start()
    wait_for(
        lambda: all("V=changed" in _env_of(f"{world.stack}-{name}-1") for name in apps),
        60,
        "convergence after the restart",
    )
    names = sorted(c["Name"] for c in containers(world.stack))
    assert names == sorted(f"{world.stack}-{name}-1" for name in apps), names
    interrupted = [d for d in restarted.history() if "interrupted" in " ".join(d["errors"])]
    assert interrupted, "the deployment cut short by kill -9 is recorded as interrupted"


def test_second_daemon_on_same_state_dir_exits(world: World) -> None:
    world.push({"web": _app("1")}, "first")
    daemon = world.start()
    result = cli(
        "run", "--repo", str(world.origin), "--state-dir", str(daemon.state_dir),
        "--listen", f"127.0.0.1:{_free_port()}", timeout=30,
    )  # fmt: skip
    assert result.returncode != 0
    assert "another reconciler is running" in result.stderr


def test_rollback_pins_and_resume_follows_again(world: World) -> None:
    first = world.push({"web": _app("1")}, "first")
    daemon = world.start(interval="1s")
    name = f"{world.stack}-web-1"
    wait_for(lambda: daemon.health()["revision"] == first, 30, "the first revision")
    second = world.push({"web": _app("2")}, "second")
    wait_for(lambda: "V=2" in _env_of(name), 30, "the second revision")
    deployment = next(d for d in daemon.history() if d["revision"] == first)
    result = cli("rollback", str(deployment["id"]), "--state-dir", daemon.state_dir)
    assert result.returncode == 0, result.stderr
    wait_for(lambda: "V=1" in _env_of(name), 30, "the rollback to V=1")
    assert daemon.health()["pinned"] == first
    time.sleep(2)  # polls keep the pin: auto-sync is suspended
    assert "V=1" in _env_of(name)
    assert cli("resume", "--state-dir", daemon.state_dir).returncode == 0
    wait_for(lambda: "V=2" in _env_of(name), 30, "following the branch again")
    wait_for(lambda: daemon.health()["revision"] == second, 10, "health at the tip")


def test_oversized_webhook_is_refused_before_reading(world: World) -> None:
    world.push({"web": _app("1")}, "first")
    daemon = world.start()
    wait_for(lambda: containers(world.stack), 30, "the first deployment")
    body = b"{" + b" " * (1024 * 1024 + 10) + b"}"
    status, answer = daemon.post(
        "/api/v1/webhooks/github", body, {"X-Hub-Signature-256": _sign(body)}
    )
    assert status == 413 and answer["error"]["status"] == 413
    assert [d["trigger"] for d in daemon.history()] == ["startup"]
