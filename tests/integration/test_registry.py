"""Pulls against a real local registry (Debian's docker-registry on 127.0.0.1:5000)."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker.errors
import pytest

from .support import (
    BUSYBOX_1,
    BUSYBOX_2,
    REPO_ROOT,
    SLEEP,
    api,
    apply_ok,
    cli,
    container_ids,
    containers,
    describe,
    http_get,
    image_id,
    write_stack,
)
from .support import engine_skip_reason as _skip_reason

if (_reason := _skip_reason()) is not None:
    pytest.skip(_reason, allow_module_level=True)

pytestmark = pytest.mark.docker

REGISTRY = "127.0.0.1:5000"


@pytest.fixture(scope="session")
def registry() -> str:
    """Start (or reuse: the script is idempotent) the local registry; skip, saying why, if not."""
    setup = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "setup-docker.sh"), "--registry"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if setup.returncode != 0:
        pytest.skip(f"local registry could not start: {setup.stderr.strip()[-500:]}")
    status, _ = http_get(f"http://{REGISTRY}/v2/")
    assert status == 200, f"registry on {REGISTRY} answered {status}"
    return REGISTRY


@pytest.fixture
def push(registry: str) -> Iterator[Callable[[str, str], str]]:
    """push(local_image, tag) → REPO:tag in a repository unique to the test; local tags untagged.

    The pushed reference is removed locally right away, so an apply has to pull it.
    """
    repository = f"{registry}/it-{uuid.uuid4().hex[:8]}/app"

    def push_as(local_image: str, tag: str) -> str:
        client = api()
        client.tag(local_image, repository, tag)
        for event in client.push(repository, tag=tag, stream=True, decode=True):
            assert "error" not in event, event
        client.remove_image(f"{repository}:{tag}")
        return f"{repository}:{tag}"

    yield push_as
    client = api()
    for image in client.images():
        for ref in (image.get("RepoTags") or []) + (image.get("RepoDigests") or []):
            if ref.startswith(repository):
                # Only ever untags: every pushed image is also a fixture image.
                with contextlib.suppress(docker.errors.APIError):
                    client.remove_image(ref)


def test_apply_pulls_missing_image(stack: str, repo: Path, push: Callable[[str, str], str]) -> None:
    reference = push(BUSYBOX_1, "1")
    write_stack(repo, stack, {"app": {"image": reference, "command": SLEEP}})
    result = apply_ok(repo)
    assert f"pulling {reference}" in result.stdout
    (only,) = containers(stack)
    assert only["Name"] == f"{stack}-app-1" and only["State"] == "running"
    assert only["ImageID"] == image_id(BUSYBOX_1)


def test_unpullable_image_fails_only_its_app(
    stack: str, repo: Path, push: Callable[[str, str], str]
) -> None:
    good = push(BUSYBOX_1, "1")
    missing = good.rsplit(":", 1)[0] + ":does-not-exist"
    write_stack(repo, stack, {
        "good": {"image": good, "command": SLEEP},
        "bad": {"image": missing, "command": SLEEP},
    })  # fmt: skip
    result = cli("apply", repo)
    assert result.returncode != 0, describe(result)
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed: bad")]
    assert failed, describe(result)
    assert "manifest unknown" in failed[0] or "not found" in failed[0], describe(result)
    assert not any(line.startswith("failed: good") for line in result.stderr.splitlines())

    live = {c["Name"]: c for c in containers(stack)}
    assert sorted(live) == [f"{stack}-good-1"]
    assert live[f"{stack}-good-1"]["State"] == "running"


def test_pull_always_follows_a_moved_tag(
    stack: str, repo: Path, push: Callable[[str, str], str]
) -> None:
    reference = push(BUSYBOX_1, "1")
    write_stack(repo, stack, {"app": {"image": reference, "command": SLEEP, "pull": "always"}})
    apply_ok(repo)
    before = container_ids(stack)
    assert inspect_image_of(stack) == image_id(BUSYBOX_1)

    # The registry's tag now names another image; the local tag still names the old one.
    push(BUSYBOX_2, "1")
    api().tag(BUSYBOX_1, *reference.rsplit(":", 1))
    assert image_id(reference) == image_id(BUSYBOX_1)

    result = apply_ok(repo)
    assert f"pulling {reference}" in result.stdout
    after = container_ids(stack)
    assert sorted(after) == sorted(before)
    assert after[f"{stack}-app-1"] != before[f"{stack}-app-1"], "not recreated on the new image"
    assert inspect_image_of(stack) == image_id(BUSYBOX_2)

    # Pulled again, nothing moved: nothing to do.
    again = apply_ok(repo)
    assert container_ids(stack) == after, describe(again)


def inspect_image_of(stack: str) -> str:
    (only,) = containers(stack)
    return str(only["ImageID"])
