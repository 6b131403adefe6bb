"""Docker list payloads → Live* values, checked on payloads recorded from a real engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.desired.build import build_desired
from reconciler.manifests.loader import load_stack
from reconciler.observed.normalize import (
    container_from_summary,
    image_references,
    network_from_summary,
    volume_from_summary,
)
from reconciler.plan.diff import parse_spec_label
from reconciler.plan.planner import make_plan
from reconciler.plan.render import plan_to_text
from reconciler.state import labels
from reconciler.state.model import DesiredStack, Observed, canonical_reference

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "docker"
RECORD_HINT = "see tests/fixtures/docker/README.md to record the payloads again"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def recorded_summary() -> dict[str, Any]:
    [summary] = fixture("containers_list.json")
    assert isinstance(summary, dict)
    return summary


def recorded_desired() -> DesiredStack:
    return build_desired(load_stack(FIXTURES / "stack.yaml").stack, revision="local")


def recorded_observed() -> Observed:
    return Observed(
        containers=tuple(container_from_summary(s) for s in fixture("containers_list.json")),
        networks=tuple(network_from_summary(s) for s in fixture("networks_list.json")),
        volumes=tuple(volume_from_summary(s) for s in fixture("volumes_list.json")["Volumes"]),
        images=tuple(sorted(image_references(fixture("images_list.json")).items())),
    )


def test_recorded_container_summary() -> None:
    summary = recorded_summary()
    container = container_from_summary(summary)
    assert container.id == summary["Id"]
    assert container.name == "rec-fixture-sleeper-1"
    assert (container.kind, container.owner, container.replica) == ("app", "sleeper", 1)
    assert container.state == "running"
    assert container.running
    assert container.status.startswith("Up ")
    assert container.health == "healthy"
    assert container.image == "reconciler-fixture/busybox:1"
    assert container.image_id == summary["ImageID"]
    assert container.image_id.startswith("sha256:")
    assert container.spec_hash == summary["Labels"][labels.HASH]
    assert len(container.spec_hash) == 16
    assert container.revision == "local"
    assert container.replaces is None
    assert container.volumes == ("rec-fixture-sleeper-data",)
    assert parse_spec_label(container.spec_doc) == json.loads(summary["Labels"][labels.SPEC])


def test_recorded_networks_volumes_and_images() -> None:
    observed = recorded_observed()
    assert [n.name for n in observed.networks] == ["rec-fixture-net"]
    assert observed.networks[0].id == fixture("networks_list.json")[0]["Id"]
    assert [v.name for v in observed.volumes] == ["rec-fixture-sleeper-data"]
    # RepoDigests is null for locally built images; tags still map to their ids.
    assert observed.image_id("reconciler-fixture/busybox:1") == recorded_summary()["ImageID"]
    assert observed.image_id("reconciler-fixture/busybox:2") not in (
        None,
        recorded_summary()["ImageID"],
    )


def test_recorded_live_state_needs_no_changes() -> None:
    """What reconciler created must read back as converged, from the list payloads alone."""
    plan = make_plan(recorded_desired(), recorded_observed())
    assert plan.empty, (
        "containers created earlier would be replaced (or the payload is misread); if a change "
        f"to the spec labels is intended, {RECORD_HINT}\n{plan_to_text(plan)}"
    )


def test_recorded_labels_carry_the_live_state_contract() -> None:
    summary = recorded_summary()
    desired = recorded_desired()
    [workload] = desired.workloads
    assert summary["Labels"][labels.STACK] == "rec-fixture"
    assert summary["Labels"][labels.KIND] == "app"
    assert summary["Labels"][labels.NAME] == "sleeper"
    assert summary["Labels"]["team"] == "fixtures"
    assert json.loads(summary["Labels"][labels.SPEC]) == workload.spec_doc, RECORD_HINT
    assert summary["Labels"][labels.HASH] == workload.spec_hash, RECORD_HINT


def test_recorded_inspect_agrees_with_the_list_entry() -> None:
    summary, inspect = recorded_summary(), fixture("container_inspect.json")
    assert inspect["Id"] == summary["Id"]
    assert inspect["Name"] == summary["Names"][0]
    assert inspect["Config"]["Labels"] == summary["Labels"]
    assert inspect["Image"] == summary["ImageID"]
    assert inspect["State"]["Status"] == summary["State"]
    assert inspect["State"]["Health"]["Status"] == container_from_summary(summary).health


def test_recorded_inspect_shows_the_desired_spec_was_created() -> None:
    [workload] = recorded_desired().workloads
    [spec] = workload.replicas
    inspect = fixture("container_inspect.json")
    config, host = inspect["Config"], inspect["HostConfig"]
    assert config["Cmd"] == list(spec.command or ())
    assert {f"{key}={value}" for key, value in spec.env} <= set(config["Env"])
    assert spec.healthcheck is not None
    assert config["Healthcheck"]["Test"] == list(spec.healthcheck.test)
    assert config["Healthcheck"]["Interval"] == int(spec.healthcheck.interval * 1_000_000_000)
    assert config["Healthcheck"]["Retries"] == spec.healthcheck.retries
    assert host["PortBindings"] == {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}
    assert host["Mounts"] == [
        {"Source": "rec-fixture-sleeper-data", "Target": "/data", "Type": "volume"}
    ]
    assert host["RestartPolicy"]["Name"] == "unless-stopped"
    assert host["Init"] is True


def test_summary_without_our_labels() -> None:
    container = container_from_summary({"Id": "abc", "Names": ["/x"], "State": "exited"})
    assert (container.name, container.kind, container.owner, container.replica) == ("x", "", "", 0)
    assert container.spec_hash == container.spec_doc == container.revision == ""
    assert container.replaces is None
    assert not container.running
    assert container_from_summary({}).name == ""


def test_unreadable_replica_label_is_zero() -> None:
    summary = {"Names": ["/s-a-1"], "Labels": {labels.REPLICA: "one"}}
    assert container_from_summary(summary).replica == 0


def test_replaces_marks_only_unfinished_replacements() -> None:
    base = recorded_summary()
    temp = {**base, "Names": ["/rec-fixture-sleeper-1--next"]}
    temp["Labels"] = {**base["Labels"], labels.REPLACES: "rec-fixture-sleeper-1"}
    assert container_from_summary(temp).replaces == "rec-fixture-sleeper-1"
    # Labels never change: once renamed onto its target, the label names the container itself.
    done = {**temp, "Names": ["/rec-fixture-sleeper-1"]}
    assert container_from_summary(done).replaces is None


def test_health_from_status() -> None:
    def health(status: str) -> str | None:
        return container_from_summary({"Status": status}).health

    assert health("Up 3 minutes (healthy)") == "healthy"
    assert health("Up 3 minutes (unhealthy)") == "unhealthy"
    assert health("Up 2 seconds (health: starting)") == "starting"
    assert health("Up 3 minutes") is None
    assert health("Exited (0) 2 minutes ago") is None


def test_only_named_volume_mounts_are_kept() -> None:
    summary = {
        "Mounts": [
            {"Type": "bind", "Source": "/etc/hosts", "Destination": "/etc/hosts"},
            {"Type": "volume", "Name": "s-a-data", "Destination": "/data"},
            {"Type": "tmpfs", "Destination": "/tmp"},
        ]
    }
    assert container_from_summary(summary).volumes == ("s-a-data",)


def test_image_references_map_tags_and_digests() -> None:
    images: list[dict[str, Any]] = [
        {"Id": "sha256:1", "RepoTags": ["busybox:latest", "busybox:1"], "RepoDigests": None},
        {"Id": "sha256:2", "RepoTags": None, "RepoDigests": ["ghcr.io/a/b@sha256:ff"]},
        {"Id": "sha256:3", "RepoTags": ["<none>:<none>"], "RepoDigests": ["<none>@<none>"]},
    ]
    assert image_references(images) == {
        "busybox:latest": "sha256:1",
        "busybox:1": "sha256:1",
        "ghcr.io/a/b@sha256:ff": "sha256:2",
    }
    observed = Observed(images=tuple(sorted(image_references(images).items())))
    assert observed.image_id("busybox") == "sha256:1"  # an untagged reference means :latest
    assert observed.image_id("ghcr.io/a/b@sha256:ff") == "sha256:2"
    assert observed.image_id("busybox:2") is None


def test_network_and_volume_summaries() -> None:
    assert network_from_summary({"Id": "n1", "Name": "s-net"}).name == "s-net"
    assert network_from_summary({"Id": "n1", "Name": "s-net"}).id == "n1"
    assert volume_from_summary({"Name": "s-a-data", "Driver": "local"}).name == "s-a-data"


@pytest.mark.parametrize(
    ("reference", "listed"),
    [
        ("busybox", "busybox:latest"),
        ("busybox:1", "busybox:1"),
        ("library/busybox:1", "busybox:1"),
        ("docker.io/library/busybox:1", "busybox:1"),
        ("docker.io/library/busybox", "busybox:latest"),
        ("index.docker.io/acme/web:2", "acme/web:2"),
        ("docker.io/library/busybox@sha256:ff", "busybox@sha256:ff"),
        ("localhost:5000/web", "localhost:5000/web:latest"),
        ("localhost:5000/web:1", "localhost:5000/web:1"),
        ("ghcr.io/acme/web@sha256:ff", "ghcr.io/acme/web@sha256:ff"),
    ],
)
def test_canonical_reference_is_how_docker_lists_it(reference: str, listed: str) -> None:
    assert canonical_reference(reference) == listed
    observed = Observed(images=((listed, "sha256:1"),))
    assert observed.image_id(reference) == "sha256:1"
