"""The bundled demo (stack.yaml + services/) works as shipped, under a unique stack name."""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import partial
from pathlib import Path

import pytest

from .support import REPO_ROOT, apply_ok, cli, containers, describe, host_port, http_get, wait_for
from .support import engine_skip_reason as _skip_reason

if (_reason := _skip_reason()) is not None:
    pytest.skip(_reason, allow_module_level=True)

pytestmark = pytest.mark.docker

# "[ip:]hostPort:containerPort[/proto]" → "[ip:]containerPort[/proto]": a random host port, so
# the copy never clashes with the real demo or another test.
FIXED_HOST_PORT = re.compile(
    r"""(?<=[\[\s,"'])((?:\d{1,3}(?:\.\d{1,3}){3}:)?)\d{1,5}:(\d{1,5}(?:/(?:tcp|udp))?)(?=[\]\s,"']|$)"""
)


def unfix_host_ports(text: str) -> str:
    """Rewrite fixed host ports on `publish:` lines and list items (block-style publish lists)."""
    lines = text.splitlines(keepends=True)
    return "".join(
        FIXED_HOST_PORT.sub(r"\1\2", line)
        if "publish" in line or line.lstrip().startswith("- ")
        else line
        for line in lines
    )


def copy_demo(target: Path, stack: str) -> Path:
    target.mkdir()
    shutil.copytree(REPO_ROOT / "services", target / "services")
    shutil.copy(REPO_ROOT / "stack.yaml", target / "stack.yaml")
    for manifest in [target / "stack.yaml", *sorted((target / "services").glob("*.yaml"))]:
        text = unfix_host_ports(manifest.read_text())
        if manifest.name == "stack.yaml":
            text, count = re.subn(r"(?m)^stack:\s*\S+", f"stack: {stack}", text)
            assert count == 1, "the demo's stack.yaml has no `stack:` line"
        manifest.write_text(text)
    return target


def docker_port(container: str, container_port: int) -> int:
    """The host port `docker port` reports on 127.0.0.1, as a user would look it up."""
    out = subprocess.run(
        ["docker", "port", container, str(container_port)],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    ports = [line.rsplit(":", 1)[1] for line in out.split() if line.startswith("127.0.0.1:")]
    assert ports, f"{container}: nothing published on 127.0.0.1: {out!r}"
    return int(ports[0])


def test_demo_stack_serves_its_page(stack: str, tmp_path: Path) -> None:
    demo = copy_demo(tmp_path / "demo", stack)
    assert cli("validate", demo).returncode == 0

    apply_ok(demo)
    live = {c["Name"]: c for c in containers(stack)}
    assert f"{stack}-web-1" in live, sorted(live)
    assert all(c["State"] == "running" for c in live.values()), live

    for name in sorted(n for n in live if n.startswith(f"{stack}-web-")):
        port = docker_port(name, 8080)
        assert port == host_port(name)
        url = f"http://127.0.0.1:{port}/"
        status, body = wait_for(partial(http_get, url), 10, f"{name} to answer")
        assert status == 200 and "hello from reconciler demo" in body, (status, body)

    plan = cli("plan", demo, "--detailed-exitcode")
    assert plan.returncode == 0, describe(plan)
