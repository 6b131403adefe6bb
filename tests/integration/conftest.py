"""Fixtures for the integration tests: a unique stack per test, removed whole at teardown."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import docker.errors
import pytest

from .support import api, missing_fixture_images, new_stack_name, purge_stack


@pytest.fixture(scope="session", autouse=True)
def fixture_images() -> None:
    """The engine answers (else the modules skip), so missing images are a setup error."""
    missing = missing_fixture_images()
    if missing:
        pytest.fail(f"fixture images missing ({', '.join(missing)}); run scripts/fixture-images.sh")


@pytest.fixture
def stack() -> Iterator[str]:
    """A unique stack name; everything labelled with it is removed after the test."""
    name = new_stack_name()
    yield name
    purge_stack(name)


@pytest.fixture
def more_stacks() -> Iterator[Callable[[], str]]:
    """Makes further unique stack names for tests that need several; all removed afterwards."""
    names: list[str] = []

    def make() -> str:
        names.append(new_stack_name())
        return names[-1]

    yield make
    for name in names:
        purge_stack(name)


@pytest.fixture
def foreign() -> Iterator[list[str]]:
    """Names of unmanaged containers a test creates; removed after the test."""
    names: list[str] = []
    yield names
    for name in names:
        with contextlib.suppress(docker.errors.NotFound):
            api().remove_container(name, force=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A fresh directory for one stack's manifests (not a git repo until a test makes it one)."""
    path = tmp_path / "repo"
    path.mkdir()
    return path
