"""The spec hash decides whether a live container is current: it must be stable and exact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from reconciler.desired.build import build_desired, spec_hash
from reconciler.manifests.models import Stack

Doc = dict[str, Any]


def base_app() -> Doc:
    return {
        "image": "ghcr.io/acme/web:1.4.2",
        "command": ["gunicorn", "app:app"],
        "port": 8080,
        "publish": ["127.0.0.1::8080", "127.0.0.1:9090:9090"],
        "replicas": 2,
        "env": {"LOG_LEVEL": "info", "WORKERS": "4"},
        "dependsOn": ["api"],
        "resources": {"cpu": "500m", "memory": "512Mi"},
        "healthcheck": {"http": "/healthz", "interval": "5s", "timeout": "2s", "retries": 3},
        "volumes": {"uploads": "/srv/uploads"},
        "labels": {"team": "frontend"},
        "environment": "production",
        "update": "rolling",
        "pull": "missing",
    }


def base_stack() -> Doc:
    return {
        "version": 1,
        "stack": "shop",
        "apps": {"web": base_app(), "api": {"image": "ghcr.io/acme/api:1"}},
    }


def web_hash(doc: Doc, revision: str = "abc123") -> str:
    workload = build_desired(Stack.model_validate(doc), revision=revision).workload("web")
    assert workload is not None
    return workload.spec_hash


def edit(change: Callable[[Doc], None]) -> Doc:
    doc = base_stack()
    change(doc["apps"]["web"])
    return doc


def test_hash_is_short_hex() -> None:
    value = web_hash(base_stack())
    assert len(value) == 16
    int(value, 16)


def test_hash_is_stable_across_runs() -> None:
    """Same manifests, fresh interpreters with other hash seeds: the same hash."""
    script = (
        "import json, sys\n"
        "from reconciler.desired.build import build_desired\n"
        "from reconciler.manifests.models import Stack\n"
        "stack = Stack.model_validate(json.loads(sys.argv[1]))\n"
        "print(build_desired(stack).workload('web').spec_hash)\n"
    )
    results = set()
    for seed in ("1", "2", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", script, json.dumps(base_stack())],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        results.add(out.stdout.strip())
    assert results == {web_hash(base_stack())}


def test_hash_ignores_key_and_entry_order() -> None:
    reordered = base_stack()
    web = reordered["apps"]["web"]
    reordered["apps"]["web"] = dict(reversed(list(web.items())))
    web = reordered["apps"]["web"]
    web["env"] = dict(reversed(list(web["env"].items())))
    web["labels"] = {"team": "frontend"}
    web["publish"] = list(reversed(web["publish"]))  # bindings are a set, not a sequence
    reordered["apps"] = dict(reversed(list(reordered["apps"].items())))
    assert web_hash(reordered) == web_hash(base_stack())


def test_spec_hash_of_a_document_ignores_key_order() -> None:
    doc = {"b": 1, "a": {"y": 2, "x": [1, 2]}}
    assert spec_hash(doc) == spec_hash({"a": {"x": [1, 2], "y": 2}, "b": 1})
    assert spec_hash(doc) != spec_hash({"b": 1, "a": {"y": 2, "x": [2, 1]}})


def test_equivalent_quantities_hash_alike() -> None:
    def same_resources(app: Doc) -> None:
        app["resources"] = {"cpu": "0.5", "memory": 536870912}

    assert web_hash(edit(same_resources)) == web_hash(base_stack())


CHANGES: dict[str, Callable[[Doc], None]] = {
    "image": lambda a: a.update(image="ghcr.io/acme/web:1.4.3"),
    "command": lambda a: a.update(command=["gunicorn", "-w", "2", "app:app"]),
    "command removed": lambda a: a.pop("command"),
    "command empty": lambda a: a.update(command=[]),
    "env value": lambda a: a["env"].update(LOG_LEVEL="debug"),
    "env key added": lambda a: a["env"].update(EXTRA="1"),
    "env key removed": lambda a: a["env"].pop("WORKERS"),
    "publish host port": lambda a: a.update(publish=["127.0.0.1::8080", "127.0.0.1:9091:9090"]),
    "publish removed": lambda a: a.update(publish=["127.0.0.1::8080"]),
    "publish protocol": lambda a: a.update(publish=["127.0.0.1::8080/udp", "127.0.0.1:9090:9090"]),
    "volume target": lambda a: a.update(volumes={"uploads": "/data"}),
    "volume name": lambda a: a.update(volumes={"files": "/srv/uploads"}),
    "label": lambda a: a["labels"].update(team="backend"),
    "label added": lambda a: a["labels"].update(tier="1"),
    "environment": lambda a: a.update(environment="staging"),
    "cpu": lambda a: a["resources"].update(cpu="1"),
    "memory": lambda a: a["resources"].update(memory="1Gi"),
    "cpu removed": lambda a: a["resources"].pop("cpu"),
    "healthcheck interval": lambda a: a["healthcheck"].update(interval="10s"),
    "healthcheck timeout": lambda a: a["healthcheck"].update(timeout="3s"),
    "healthcheck retries": lambda a: a["healthcheck"].update(retries=4),
    "healthcheck start period": lambda a: a["healthcheck"].update(startPeriod="30s"),
    "healthcheck path": lambda a: a["healthcheck"].update(http="/ready"),
    "healthcheck command": lambda a: a.update(healthcheck={"command": ["true"]}),
    "healthcheck removed": lambda a: a.pop("healthcheck"),
    "port (the http probe uses it)": lambda a: a.update(port=8081),
    "pull": lambda a: a.update(pull="always"),
}


@pytest.mark.parametrize("name", list(CHANGES))
def test_hash_changes_with_every_container_field(name: str) -> None:
    assert web_hash(edit(CHANGES[name])) != web_hash(base_stack())


def test_every_change_gives_a_distinct_hash() -> None:
    hashes = {name: web_hash(edit(change)) for name, change in CHANGES.items()}
    assert len(set(hashes.values())) == len(hashes)


NEUTRAL: dict[str, Callable[[Doc], None]] = {
    "replicas up": lambda a: a.update(replicas=5),
    "replicas zero": lambda a: a.update(replicas=0),
    "dependsOn": lambda a: a.update(dependsOn=[]),
    "update strategy": lambda a: a.update(update="recreate"),
}


@pytest.mark.parametrize("name", list(NEUTRAL))
def test_hash_ignores_how_many_and_in_what_order(name: str) -> None:
    assert web_hash(edit(NEUTRAL[name])) == web_hash(base_stack())


def test_hash_ignores_the_revision_and_other_apps() -> None:
    other = base_stack()
    other["apps"]["api"]["image"] = "ghcr.io/acme/api:2"
    other["apps"]["cron"] = {"image": "ghcr.io/acme/cron:1"}
    assert web_hash(other, revision="fff000") == web_hash(base_stack())


def test_every_replica_shares_the_workload_hash_and_document() -> None:
    desired = build_desired(Stack.model_validate(base_stack()))
    web = desired.workload("web")
    assert web is not None
    assert [spec.name for spec in web.replicas] == ["shop-web-1", "shop-web-2"]
    assert spec_hash(web.spec_doc) == web.spec_hash
    first, second = web.replicas
    assert replace(second, replica=1) == first
    assert "replicas" not in web.spec_doc and "dependsOn" not in web.spec_doc
