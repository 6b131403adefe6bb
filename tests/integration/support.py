"""Helpers for the integration tests: the real CLI, real git repos, and the real engine.

Tests look at Docker only through list/inspect calls and reach containers only through ports
published on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BUSYBOX_1 = "reconciler-fixture/busybox:1"
BUSYBOX_2 = "reconciler-fixture/busybox:2"
WEB = "reconciler-demo/web:1"
FIXTURE_IMAGES = (BUSYBOX_1, BUSYBOX_2, WEB)
STACK_LABEL = "io.reconciler.stack"
TEMP_SUFFIX = "--next"
CLI = [sys.executable, "-m", "reconciler.cli.main"]
#: A container that does nothing and stops at once (the engine runs it under tini).
SLEEP = ["sleep", "3600"]
#: Fast healthcheck timing: Docker probes every second, so a healthy check settles in about one
#: second; three misses (not one slow probe on a loaded host) make a container unhealthy.
FAST = {"interval": "1s", "timeout": "2s", "retries": 3}


def engine_skip_reason() -> str | None:
    """Why the integration tests cannot run here (no engine answers), or None when one does."""
    try:
        client = docker.APIClient(version="auto", timeout=5, **docker.utils.kwargs_from_env())
        client.ping()
    except Exception as e:  # any failure to reach the engine means: skip, say why
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        return (
            f"no Docker engine answers at {where} ({type(e).__name__}); "
            "start one with `bash scripts/setup-docker.sh`"
        )
    return None


def missing_fixture_images() -> list[str]:
    missing = []
    for image in FIXTURE_IMAGES:
        try:
            api().inspect_image(image)
        except docker.errors.ImageNotFound:
            missing.append(image)
    return missing


_client: docker.APIClient | None = None


def api() -> docker.APIClient:
    global _client
    if _client is None:
        _client = docker.APIClient(version="auto", timeout=60, **docker.utils.kwargs_from_env())
    return _client


def new_stack_name() -> str:
    return f"it-{uuid.uuid4().hex[:8]}"


def purge_stack(stack: str) -> None:
    """Remove everything labelled with this stack: containers, then networks, then volumes."""
    client = api()
    flt = {"label": [f"{STACK_LABEL}={stack}"]}

    def remove(container_id: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            client.remove_container(container_id, force=True)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(remove, [c["Id"] for c in client.containers(all=True, filters=flt)]))
    for network in client.networks(filters=flt):
        # The engine detaches endpoints of just-removed containers asynchronously.
        for attempt in range(20):
            try:
                client.remove_network(network["Id"])
                break
            except docker.errors.NotFound:
                break
            except docker.errors.APIError:
                if attempt == 19:
                    raise
                time.sleep(0.25)
    for volume in (client.volumes(filters=flt) or {}).get("Volumes") or []:
        with contextlib.suppress(docker.errors.NotFound):
            client.remove_volume(volume["Name"], force=True)


# --- the CLI -----------------------------------------------------------------------------------


def cli(
    *args: str | Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 180,
) -> subprocess.CompletedProcess[str]:
    """Run `reconciler ARGS...` as a user would; never raises on a non-zero exit."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [*CLI, *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or REPO_ROOT,
        timeout=timeout,
        check=False,
    )


def describe(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def apply_ok(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    result = cli("apply", path, *extra)
    assert result.returncode == 0, describe(result)
    return result


# --- manifests and git ---------------------------------------------------------------------------


def write_stack(
    directory: Path,
    stack: str,
    apps: Mapping[str, Mapping[str, Any]],
    *,
    settings: Mapping[str, Any] | None = None,
    include: list[str] | None = None,
) -> Path:
    """Write stack.yaml (as JSON, which is YAML) and return its directory."""
    directory.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {"version": 1, "stack": stack}
    if include is not None:
        doc["include"] = include
    if settings is not None:
        doc["settings"] = dict(settings)
    doc["apps"] = {name: dict(app) for name, app in apps.items()}
    (directory / "stack.yaml").write_text(json.dumps(doc, indent=2) + "\n")
    return directory


def git(directory: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(directory), "-c", "user.name=it", "-c", "user.email=it@example.invalid",
         *args],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout.strip()  # fmt: skip


def git_commit_all(directory: Path, message: str = "update") -> str:
    """`git init` (once), commit everything, return the HEAD commit."""
    if not (directory / ".git").exists():
        git(directory, "init", "-q")
    git(directory, "add", "-A")
    git(directory, "commit", "-q", "-m", message)
    return git(directory, "rev-parse", "HEAD")


# --- looking at the engine ----------------------------------------------------------------------


def containers(stack: str) -> list[dict[str, Any]]:
    """Container summaries of the stack (one list call), sorted by name, with a plain 'Name'."""
    raw = api().containers(all=True, filters={"label": [f"{STACK_LABEL}={stack}"]})
    for summary in raw:
        summary["Name"] = summary["Names"][0].lstrip("/")
    return sorted(raw, key=lambda s: str(s["Name"]))


def container_ids(stack: str) -> dict[str, str]:
    return {c["Name"]: c["Id"] for c in containers(stack)}


def inspect(name: str) -> dict[str, Any]:
    result: dict[str, Any] = api().inspect_container(name)
    return result


def image_id(reference: str) -> str:
    return str(api().inspect_image(reference)["Id"])


def networks_named(name: str) -> list[dict[str, Any]]:
    """Every network with exactly this name (Docker allows duplicates)."""
    return [n for n in api().networks(names=[name]) if n["Name"] == name]


def volume_exists(name: str) -> bool:
    try:
        api().inspect_volume(name)
    except docker.errors.NotFound:
        return False
    return True


def host_port(container: str, container_port: int = 8080) -> int:
    """The host port published on 127.0.0.1 for `container_port`."""
    ports = inspect(container)["NetworkSettings"]["Ports"] or {}
    bindings = ports.get(f"{container_port}/tcp") or []
    local = [b for b in bindings if b.get("HostIp") == "127.0.0.1"]
    assert local, f"{container}: {container_port}/tcp is not published on 127.0.0.1: {ports}"
    return int(local[0]["HostPort"])


def http_get(url: str, timeout: float = 2) -> tuple[int, str]:
    assert url.startswith("http://127.0.0.1:"), "tests reach containers only via 127.0.0.1"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return int(e.code), ""


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll until `condition()` is truthy and return it; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
        except (OSError, urllib.error.URLError) as e:
            last_error = e
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what} (last error: {last_error})"
    )


#: The add-on images scripts/addon-images.sh builds from Debian packages.
REDIS_REPOSITORY = "reconciler-fixture/redis"


def missing_image_reason(*references: str) -> str | None:
    """Why tests needing these local images cannot run, or None when all are present."""
    missing = []
    for reference in references:
        try:
            api().inspect_image(reference)
        except docker.errors.ImageNotFound:
            missing.append(reference)
    if missing:
        return f"{', '.join(missing)} missing; run `bash scripts/addon-images.sh`"
    return None


def redis_backup_stack(stack: str, backups: Mapping[str, Any]) -> dict[str, Any]:
    """A stack with one Redis add-on, `cache`, and the given declared backups of it."""
    return {
        "version": 1,
        "stack": stack,
        "settings": {"images": {"redis": REDIS_REPOSITORY}, "helperImage": BUSYBOX_1},
        "addons": {"cache": {"type": "redis", "version": "7", "tier": "starter"}},
        "backups": dict(backups),
    }


def redis_marks() -> list[pytest.MarkDecorator]:
    """The docker mark, and a skip saying why when the engine or the Redis image is missing."""
    if reason := engine_skip_reason() or missing_image_reason(f"{REDIS_REPOSITORY}:7"):
        return [pytest.mark.docker, pytest.mark.skip(reason=reason)]
    return [pytest.mark.docker]
