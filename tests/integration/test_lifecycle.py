"""apply / plan / status / down as a user runs them, against the real engine and real git repos."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from .support import (
    BUSYBOX_1,
    FAST,
    SLEEP,
    WEB,
    api,
    apply_ok,
    cli,
    container_ids,
    containers,
    describe,
    git_commit_all,
    host_port,
    http_get,
    inspect,
    networks_named,
    volume_exists,
    wait_for,
    write_stack,
)
from .support import engine_skip_reason as _skip_reason

if (_reason := _skip_reason()) is not None:
    pytest.skip(_reason, allow_module_level=True)

pytestmark = pytest.mark.docker

LABEL_KEYS = ("stack", "kind", "name", "hash", "revision")

# A prober that fetches http://web:8080/healthz over the stack network every 0.3 s and serves
# the result on its own published port: the test never has to reach into a container.
PROBE_COMMAND = [
    "sh", "-c",
    "mkdir -p /w; "
    "(while true; do wget -q -O /w/alias.tmp http://web:8080/healthz "
    "&& mv /w/alias.tmp /w/alias; sleep 0.3; done) & "
    "exec httpd -f -p 8080 -h /w",
]  # fmt: skip


def sleeper(**extra: Any) -> dict[str, Any]:
    return {"image": BUSYBOX_1, "command": SLEEP, **extra}


def assert_labels(labels: dict[str, str], stack: str, kind: str, name: str, revision: str) -> None:
    for key in LABEL_KEYS:
        assert f"io.reconciler.{key}" in labels, f"{name}: label io.reconciler.{key} missing"
    assert labels["io.reconciler.stack"] == stack
    assert labels["io.reconciler.kind"] == kind
    assert labels["io.reconciler.name"] == name
    assert labels["io.reconciler.revision"] == revision
    assert labels["io.reconciler.hash"], f"{name}: empty hash label"


def test_apply_creates_named_labelled_objects_and_dns_aliases(stack: str, repo: Path) -> None:
    write_stack(repo, stack, {
        "web": {"image": WEB, "port": 8080, "volumes": {"data": "/data"},
                "healthcheck": {"http": "/healthz", **FAST}},
        "probe": {"image": BUSYBOX_1, "command": PROBE_COMMAND, "port": 8080,
                  "publish": ["127.0.0.1:8080"], "dependsOn": ["web"]},
    })  # fmt: skip
    commit = git_commit_all(repo, "two apps")

    result = apply_ok(repo)
    assert "converged" in result.stdout

    live = {c["Name"]: c for c in containers(stack)}
    assert sorted(live) == [f"{stack}-probe-1", f"{stack}-web-1"]
    web = inspect(f"{stack}-web-1")
    assert_labels(web["Config"]["Labels"], stack, "app", "web", commit)
    assert_labels(live[f"{stack}-probe-1"]["Labels"], stack, "app", "probe", commit)
    assert web["State"]["Health"]["Status"] == "healthy"

    # One bridge network per stack; each app joins it under its own name.
    nets = networks_named(f"{stack}-net")
    assert len(nets) == 1
    network = api().inspect_network(nets[0]["Id"])
    assert network["Driver"] == "bridge"
    assert_labels(network["Labels"], stack, "network", f"{stack}-net", commit)
    for app in ("web", "probe"):
        endpoint = inspect(f"{stack}-{app}-1")["NetworkSettings"]["Networks"][f"{stack}-net"]
        assert app in (endpoint.get("Aliases") or []), endpoint

    # The named volume, labelled and mounted.
    volume = api().inspect_volume(f"{stack}-web-data")
    assert_labels(volume["Labels"], stack, "volume", f"{stack}-web-data", commit)
    mounts = {m.get("Name"): m["Destination"] for m in web["Mounts"]}
    assert mounts.get(f"{stack}-web-data") == "/data"

    # DNS alias, proven end to end: the prober reached http://web:8080/healthz on the stack net.
    port = host_port(f"{stack}-probe-1")
    body = wait_for(
        lambda: http_get(f"http://127.0.0.1:{port}/alias")[1], 15, "the prober to reach web:8080"
    )
    assert body.strip() == "ok"

    # A dirty checkout is no commit: what gets (re)created is labelled `local`.
    doc = json.loads((repo / "stack.yaml").read_text())
    doc["apps"]["probe"]["env"] = {"DIRTY": "1"}
    (repo / "stack.yaml").write_text(json.dumps(doc))
    apply_ok(repo)
    labels = {c["Name"]: c["Labels"] for c in containers(stack)}
    assert labels[f"{stack}-probe-1"]["io.reconciler.revision"] == "local"
    assert labels[f"{stack}-web-1"]["io.reconciler.revision"] == commit  # untouched


def test_revision_is_local_outside_git(stack: str, repo: Path) -> None:
    write_stack(repo, stack, {"a": sleeper()})
    apply_ok(repo)
    (only,) = containers(stack)
    assert only["Name"] == f"{stack}-a-1"
    assert only["Labels"]["io.reconciler.revision"] == "local"


def test_second_apply_is_a_noop(stack: str, repo: Path) -> None:
    write_stack(repo, stack, {"a": sleeper(replicas=2), "b": sleeper(volumes={"v": "/v"})})
    git_commit_all(repo)
    apply_ok(repo)
    before = container_ids(stack)
    assert sorted(before) == [f"{stack}-a-1", f"{stack}-a-2", f"{stack}-b-1"]

    plan = cli("plan", repo, "--detailed-exitcode")
    assert plan.returncode == 0, describe(plan)
    assert "no changes" in plan.stdout

    again = apply_ok(repo)
    assert "no changes" in again.stdout
    assert container_ids(stack) == before

    status = cli("status", repo, "--json")
    assert status.returncode == 0, describe(status)
    rows = {row["name"]: row for row in json.loads(status.stdout)}
    assert rows["a"]["sync"] == "synced" and rows["a"]["readyReplicas"] == 2
    assert rows["b"]["sync"] == "synced" and rows["b"]["readyReplicas"] == 1


def test_env_edit_recreates_only_that_app(stack: str, repo: Path) -> None:
    apps = {"a": sleeper(env={"X": "1", "KEEP": "k"}), "b": sleeper(env={"X": "1"})}
    write_stack(repo, stack, apps)
    apply_ok(repo)
    before = container_ids(stack)

    apps["a"] = sleeper(env={"X": "2", "KEEP": "k"})
    write_stack(repo, stack, apps)
    pending = cli("plan", repo, "--detailed-exitcode")
    assert pending.returncode == 2, describe(pending)

    as_json = cli("plan", repo, "--json")
    assert as_json.returncode == 0, describe(as_json)
    actions = json.loads(as_json.stdout)["actions"]
    assert [(a["action"], a["kind"], a["name"]) for a in actions] == [("update", "app", "a")]
    assert actions[0]["reason"]
    assert actions[0]["changes"] == [{"field": "env.X", "from": "1", "to": "2"}]

    apply_ok(repo)
    after = container_ids(stack)
    assert sorted(after) == sorted(before)
    assert after[f"{stack}-a-1"] != before[f"{stack}-a-1"], "a was not recreated"
    assert after[f"{stack}-b-1"] == before[f"{stack}-b-1"], "b was touched"
    env = inspect(f"{stack}-a-1")["Config"]["Env"]
    assert "X=2" in env and "KEEP=k" in env
    assert cli("plan", repo, "--detailed-exitcode").returncode == 0


def test_prune_removes_undeclared_apps_but_never_foreign_containers(
    stack: str, repo: Path, foreign: list[str]
) -> None:
    # An unmanaged container that merely shares the stack's name prefix.
    stranger = f"{stack}-b-9"
    api().create_container(BUSYBOX_1, SLEEP, name=stranger, host_config=api().create_host_config(
        init=True))  # fmt: skip
    foreign.append(stranger)
    api().start(stranger)
    stranger_id = inspect(stranger)["Id"]

    write_stack(repo, stack, {"a": sleeper(), "b": sleeper(replicas=2)})
    apply_ok(repo)
    b_ids = {n: i for n, i in container_ids(stack).items() if "-b-" in n}
    assert sorted(b_ids) == [f"{stack}-b-1", f"{stack}-b-2"]

    write_stack(repo, stack, {"a": sleeper()})  # b deleted from the file
    plan = cli("plan", repo, "--json", "--no-prune")
    assert json.loads(plan.stdout)["actions"] == [], describe(plan)
    apply_ok(repo, "--no-prune")
    assert {n: i for n, i in container_ids(stack).items() if "-b-" in n} == b_ids

    write_stack(repo, stack, {"a": sleeper()}, settings={"prune": False})
    apply_ok(repo)
    assert {n: i for n, i in container_ids(stack).items() if "-b-" in n} == b_ids

    write_stack(repo, stack, {"a": sleeper()})  # prune defaults to true
    plan = cli("plan", repo, "--json")
    actions = json.loads(plan.stdout)["actions"]
    assert [(a["action"], a["name"]) for a in actions] == [("delete", "b")], describe(plan)
    apply_ok(repo)
    assert sorted(container_ids(stack)) == [f"{stack}-a-1"]

    # Neither apply nor down touches what does not carry our stack label.
    assert cli("down", repo).returncode == 0
    state = inspect(stranger)
    assert state["Id"] == stranger_id and state["State"]["Running"]


def test_down_keeps_volumes_unless_asked(stack: str, repo: Path) -> None:
    write_stack(repo, stack, {"a": sleeper(volumes={"data": "/data"}), "b": sleeper()})
    apply_ok(repo)
    assert len(containers(stack)) == 2 and volume_exists(f"{stack}-a-data")

    down = cli("down", repo)
    assert down.returncode == 0, describe(down)
    assert containers(stack) == []
    assert networks_named(f"{stack}-net") == []
    assert volume_exists(f"{stack}-a-data"), "down without --volumes removed a volume"

    down = cli("down", repo, "--volumes")
    assert down.returncode == 0, describe(down)
    assert not volume_exists(f"{stack}-a-data")
    assert re.search(r"removed \d+ object", down.stdout), describe(down)
