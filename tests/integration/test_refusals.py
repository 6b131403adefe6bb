"""Broken manifests are refused whole with positioned errors; a missing engine is one clear line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .support import BUSYBOX_1, SLEEP, apply_ok, cli, container_ids, describe, write_stack
from .support import engine_skip_reason as _skip_reason

if (_reason := _skip_reason()) is not None:
    pytest.skip(_reason, allow_module_level=True)

pytestmark = pytest.mark.docker

POSITIONED = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+):(?P<col>\d+): (?P<rest>.+)$")

BROKEN_ROOT = """\
version: 1
stack: {stack}
apps:
  web:
    image: reconciler-fixture/busybox:1
    command: [sleep, "3600"]
    replicas: two
  api:
    imagee: reconciler-fixture/busybox:1
"""

ROOT_WITH_INCLUDE = """\
version: 1
stack: {stack}
include: ["services/*.yaml"]
apps:
  web:
    image: reconciler-fixture/busybox:1
    dependsOn: [nope]
"""

BROKEN_INCLUDE = """\
apps:
  worker:
    image: reconciler-fixture/busybox:1
    publish: ["127.0.0.1:80:80"]
    replicas: 2
  web:
    image: reconciler-fixture/busybox:1
"""


def positioned_lines(stderr: str) -> dict[str, str]:
    """'FILE:LINE:COL' → rest of the line, for every positioned error line."""
    found = {}
    for line in stderr.splitlines():
        match = POSITIONED.match(line)
        if match:
            found[f"{match['file']}:{match['line']}:{match['col']}"] = match["rest"]
    return found


def test_validate_points_at_every_error(stack: str, repo: Path) -> None:
    (repo / "stack.yaml").write_text(BROKEN_ROOT.format(stack=stack))
    result = cli("validate", repo)
    assert result.returncode == 1, describe(result)
    errors = positioned_lines(result.stderr)
    assert set(errors) == {"stack.yaml:7:15", "stack.yaml:8:3", "stack.yaml:9:5"}, describe(result)
    assert errors["stack.yaml:7:15"].startswith("apps.web.replicas:")
    assert errors["stack.yaml:8:3"].startswith("apps.api.image:")
    assert "unknown key 'imagee'" in errors["stack.yaml:9:5"]

    # Errors in an included file name that file; a duplicate names both places.
    (repo / "stack.yaml").write_text(ROOT_WITH_INCLUDE.format(stack=stack))
    (repo / "services").mkdir()
    (repo / "services" / "extra.yaml").write_text(BROKEN_INCLUDE)
    result = cli("validate", repo / "stack.yaml")
    assert result.returncode == 1, describe(result)
    errors = positioned_lines(result.stderr)
    assert set(errors) == {
        "stack.yaml:7:17", "services/extra.yaml:4:15", "services/extra.yaml:6:3",
    }, describe(result)  # fmt: skip
    assert "nope" in errors["stack.yaml:7:17"]
    assert "80" in errors["services/extra.yaml:4:15"]
    assert "stack.yaml:5:3" in errors["services/extra.yaml:6:3"]
    assert "Traceback" not in result.stderr

    (repo / "services" / "extra.yaml").write_text("apps: {}\n")
    (repo / "stack.yaml").write_text("version: 1\nstack: x\napps:\n  web: {image: [\n")
    result = cli("validate", repo)
    assert result.returncode == 1, describe(result)
    assert positioned_lines(result.stderr), describe(result)


def test_broken_manifest_changes_nothing(stack: str, repo: Path) -> None:
    write_stack(repo, stack, {"a": {"image": BUSYBOX_1, "command": SLEEP, "env": {"X": "1"}}})
    apply_ok(repo)
    before = container_ids(stack)

    # A real edit (that would recreate a) plus an error elsewhere: the file is refused whole.
    text = (repo / "stack.yaml").read_text().replace('"X": "1"', '"X": "2"')
    (repo / "stack.yaml").write_text(text.replace('"apps": {', '"apps": {"b": {"replicas": -1},'))
    assert cli("validate", repo).returncode == 1

    for args in (("plan", "--detailed-exitcode"), ("apply",)):
        result = cli(args[0], repo, *args[1:])
        assert result.returncode == 1, describe(result)
        assert positioned_lines(result.stderr), describe(result)
        assert "nothing was changed" in result.stderr
        assert "Traceback" not in result.stderr
    assert container_ids(stack) == before


@pytest.mark.parametrize("command", ["plan", "apply", "status"])
def test_no_engine_is_one_clear_line(command: str, stack: str, repo: Path) -> None:
    write_stack(repo, stack, {"a": {"image": BUSYBOX_1, "command": SLEEP}})
    result = cli(command, repo, env={"DOCKER_HOST": "unix:///nonexistent.sock"}, timeout=30)
    assert result.returncode == 1, describe(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, describe(result)
    assert "no Docker engine answers at unix:///nonexistent.sock" in lines[0]
    assert "dockerd" in lines[0], "the message should say how to start an engine"
    assert "Traceback" not in result.stdout + result.stderr
