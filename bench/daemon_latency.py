"""Benchmark the daemon: signed webhook → converged image change, and idle cost at 100 apps.

Runs `reconciler run` as a real process against a bare git repository in a temp dir and the
real engine. For each round it commits an image change of one app (busybox:1 ⇄ busybox:2, with a
1 s healthcheck), pushes, sends a signed GitHub webhook and times until the container runs the
new image and is healthy; the daemon's own log gives the split into fetch, load, plan, apply
and health. Then it converges 100 apps and samples the daemon's CPU time and RSS while idle.

    python bench/daemon_latency.py [--rounds 5] [--idle-apps 100] [--idle-seconds 60]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import docker

SECRET = "bench-secret"
IMAGES = ("reconciler-fixture/busybox:1", "reconciler-fixture/busybox:2")
HOLD = ["sh", "-c", "trap 'exit 0' TERM; sleep 86400 & wait"]
CHECK = {"command": ["true"], "interval": "1s", "timeout": "1s", "retries": 3}
PHASES = re.compile(r"(fetch|load|plan|apply|health)=(\d+)ms")


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@x",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@x",
    }
    return subprocess.run(
        ["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


def write_stack(work: Path, stack: str, apps: dict[str, Any]) -> None:
    doc = {"version": 1, "stack": stack, "apps": apps}
    (work / "stack.yaml").write_text(json.dumps(doc, indent=2))
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", f"bench {time.time()}")
    git(work, "push", "-q", "origin", "main")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_daemon(root: Path, origin: Path, name: str) -> tuple[subprocess.Popen[bytes], int, Path]:
    port = free_port()
    log = root / f"{name}.log"
    cmd = [
        sys.executable,
        "-m",
        "reconciler.cli.main",
        "run",
        "--repo",
        str(origin),
        "--state-dir",
        str(root / f"state-{name}"),
        "--listen",
        f"127.0.0.1:{port}",
        "--interval",
        "600s",
    ]
    env = {**os.environ, "RECONCILER_WEBHOOK_SECRET": SECRET}
    process = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
            return process, port, log
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"daemon did not start; see {log}")


def webhook(port: int) -> None:
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/webhooks/github",
        data=body,
        method="POST",
        headers={"X-Hub-Signature-256": signature, "X-GitHub-Event": "push"},
    )
    urllib.request.urlopen(request, timeout=5).read()


def wait_converged(client: Any, container: str, image_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            info = client.inspect_container(container)
            health = (info["State"].get("Health") or {}).get("Status")
            if info["Image"] == image_id and info["State"]["Running"] and health == "healthy":
                return
        except docker.errors.NotFound:
            pass
        time.sleep(0.02)
    raise SystemExit(f"{container} did not converge within {timeout}s")


def last_phases(log: Path) -> dict[str, int]:
    lines = [
        line
        for line in log.read_text().splitlines()
        if "(webhook)" in line and "deployment" in line
    ]
    return {k: int(v) for k, v in PHASES.findall(lines[-1])} if lines else {}


def latency(root: Path, origin: Path, work: Path, rounds: int, client: Any) -> dict[str, Any]:
    stack = "benchlat"
    app = {"image": IMAGES[0], "command": HOLD, "healthcheck": CHECK}
    write_stack(work, stack, {"web": app})
    process, port, log = start_daemon(root, origin, "latency")
    ids = [client.inspect_image(image)["Id"] for image in IMAGES]
    try:
        wait_converged(client, f"{stack}-web-1", ids[0])
        totals, splits = [], []
        for i in range(1, rounds + 1):
            write_stack(work, stack, {"web": {**app, "image": IMAGES[i % 2]}})
            started = time.perf_counter()
            webhook(port)
            wait_converged(client, f"{stack}-web-1", ids[i % 2])
            totals.append(time.perf_counter() - started)
            time.sleep(0.3)  # let the deployment line reach the log
            splits.append(last_phases(log))
        return {"rounds": rounds, "seconds": totals, "phasesMs": splits}
    finally:
        stop(process)
        subprocess.run(
            [sys.executable, "-m", "reconciler.cli.main", "down", str(work)], capture_output=True
        )


def idle(root: Path, origin: Path, work: Path, apps: int, seconds: float) -> dict[str, Any]:
    stack = "benchidle"
    write_stack(
        work, stack, {f"app-{i:03d}": {"image": IMAGES[0], "command": HOLD} for i in range(apps)}
    )
    process, _port, log = start_daemon(root, origin, "idle")
    try:
        deadline = time.monotonic() + 600
        while "deployment 1 succeeded" not in log.read_text():
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"idle stack did not converge; see {log}")
            time.sleep(0.5)
        time.sleep(5)  # settle: the echo of our own creates passes
        before = cpu_seconds(process.pid)
        time.sleep(seconds)
        used = cpu_seconds(process.pid) - before
        return {
            "apps": apps,
            "seconds": seconds,
            "cpuPercent": 100 * used / seconds,
            "rssMiB": rss_mib(process.pid),
        }
    finally:
        stop(process)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "reconciler.cli.main",
                "down",
                str(work),
                "--allow-mass-deletion",
            ],
            capture_output=True,
        )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--idle-apps", type=int, default=100)
    parser.add_argument("--idle-seconds", type=float, default=60)
    args = parser.parse_args()
    client = docker.APIClient(version="auto")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        origin, work = root / "origin.git", root / "work"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
        work.mkdir()
        git(work, "init", "-q", "-b", "main")
        git(work, "remote", "add", "origin", str(origin))
        lat = latency(root, origin, work, args.rounds, client)
        idl = idle(root, origin, work, args.idle_apps, args.idle_seconds)
    median = statistics.median(lat["seconds"])
    print("daemon benchmark (reconciler run, real engine, bare git repo in a temp dir)")
    print(
        f"  webhook → converged image change, {lat['rounds']} rounds: median {median:.2f} s, "
        f"min {min(lat['seconds']):.2f} s, max {max(lat['seconds']):.2f} s"
    )
    for phase in ("fetch", "load", "plan", "apply", "health"):
        values = [split.get(phase, 0) for split in lat["phasesMs"]]
        print(f"    {phase:7} median {statistics.median(values):6.0f} ms")
    print(
        f"  idle with {idl['apps']} managed containers over {idl['seconds']:.0f} s: "
        f"CPU {idl['cpuPercent']:.2f} %, RSS {idl['rssMiB']:.0f} MiB"
    )
    print("  (compare: compose + cron has no webhook path; its latency is the cron interval)")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "daemon.json").write_text(json.dumps({"latency": lat, "idle": idl}, indent=2))


if __name__ == "__main__":
    main()
