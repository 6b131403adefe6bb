"""Write observed.json for every plan golden case: what Docker's list calls would answer.

Each case directory holds stack.yaml (what is desired now) and, when what was applied earlier
differs, live.yaml (what was applied). Containers are built from live.yaml (else stack.yaml) with
the label code apply itself uses, `container_labels`, so the payloads match what a real engine
returns for containers reconciler created; then MUTATIONS below apply what happened since (a
crash, a restart, a retagged image...). The committed observed.json files are reviewed inputs:
rerun this only when the label format changes, then review the diff of every plan.json.

    python tests/golden/plan/generate_observed.py [CASE ...]
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconciler.apply.containers import container_labels
from reconciler.desired.build import build_desired
from reconciler.manifests.loader import load_stack
from reconciler.state import labels
from reconciler.state.model import ContainerSpec, Workload

HERE = Path(__file__).resolve().parent
#: The revision the live containers were created at; plans are made at "abc123".
LIVE_REVISION = "0f1e2d3"

Observed = dict[str, list[dict[str, Any]]]


def fake_id(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def image_id(reference: str) -> str:
    return "sha256:" + fake_id("image " + reference)


def container_summary(spec: ContainerSpec, workload: Workload, name: str = "") -> dict[str, Any]:
    """One entry of GET /containers/json?all=1 for a running container reconciler created."""
    name = name or spec.name
    return {
        "Id": fake_id("container " + name),
        "Names": ["/" + name],
        "Image": spec.image,
        "ImageID": image_id(spec.image),
        "State": "running",
        "Status": "Up 2 hours (healthy)" if spec.healthcheck else "Up 2 hours",
        "Labels": container_labels(spec, workload, LIVE_REVISION),
        "Mounts": [
            {
                "Type": "volume",
                "Name": mount.volume,
                "Source": f"/var/lib/docker/volumes/{mount.volume}/_data",
                "Destination": mount.target,
                "Driver": "local",
                "Mode": "z",
                "RW": not mount.read_only,
                "Propagation": "",
            }
            for mount in spec.volumes
        ],
    }


def deployed(case: Path) -> Observed:
    """Everything reconciler would have created for live.yaml (else stack.yaml), all healthy."""
    source = case / "live.yaml" if (case / "live.yaml").exists() else case
    live = build_desired(load_stack(source).stack, revision=LIVE_REVISION)
    wanted = build_desired(load_stack(case).stack, revision="abc123")
    containers = [
        container_summary(spec, workload)
        for workload in live.workloads
        for spec in workload.replicas
    ]
    references = sorted(
        {spec.image for stack in (live, wanted) for w in stack.workloads for spec in w.replicas}
    )
    return {
        "containers": containers,
        "networks": [{"Id": fake_id("network " + live.network), "Name": live.network}],
        "volumes": [{"Name": volume} for volume in live.volumes],
        "images": [
            {"Id": image_id(reference), "RepoTags": [reference], "RepoDigests": []}
            for reference in references
        ],
    }


def named(observed: Observed, name: str) -> dict[str, Any]:
    return next(c for c in observed["containers"] if c["Names"] == ["/" + name])


def empty_host(case: Path) -> Observed:
    return {"containers": [], "networks": [], "volumes": [], "images": []}


def stopped_container(case: Path) -> Observed:
    observed = deployed(case)
    named(observed, "shop-web-2").update(State="exited", Status="Exited (137) 5 minutes ago")
    return observed


def restarting_container(case: Path) -> Observed:
    # Docker's restart policy is already bringing it back: nothing for reconciler to do.
    observed = deployed(case)
    named(observed, "shop-worker-1").update(
        State="restarting", Status="Restarting (1) 4 seconds ago"
    )
    return observed


def leftover_temp(case: Path) -> Observed:
    # An apply was killed after creating the replacement of shop-web-1 under its temp name.
    observed = deployed(case)
    wanted = build_desired(load_stack(case).stack, revision="abc123")
    web = wanted.workload("web")
    assert web is not None
    temp_name = "shop-web-1" + labels.TEMP_SUFFIX
    temp = container_summary(web.replicas[0], web, temp_name)
    temp["Labels"][labels.REPLACES] = "shop-web-1"
    temp.update(State="created", Status="Created")
    observed["containers"].append(temp)
    return observed


def image_moved(case: Path) -> Observed:
    # The tag was pulled again (or rebuilt) and now names another image than web's containers run.
    observed = deployed(case)
    for image in observed["images"]:
        if image["RepoTags"] == ["ghcr.io/acme/web:1.4.2"]:
            image["Id"] = image_id("ghcr.io/acme/web:1.4.2 rebuilt")
    return observed


def foreign_containers(case: Path) -> Observed:
    # Docker's label filter (io.reconciler.stack=shop) never returns these; the test applies the
    # same filter, so they prove nothing unlabelled, nor another stack's, reaches the plan.
    observed = deployed(case)
    observed["containers"] += [
        {
            "Id": fake_id("container postgres-dev"),
            "Names": ["/postgres-dev"],
            "Image": "postgres:16",
            "ImageID": image_id("postgres:16"),
            "State": "running",
            "Status": "Up 3 days",
            "Labels": {},
            "Mounts": [],
        },
        {
            "Id": fake_id("container shop-legacy-1"),
            "Names": ["/shop-legacy-1"],
            "Image": "ghcr.io/acme/legacy:0.9",
            "ImageID": image_id("ghcr.io/acme/legacy:0.9"),
            "State": "running",
            "Status": "Up 3 days",
            "Labels": {"maintainer": "ops@example.com"},
            "Mounts": [],
        },
    ]
    other = json.loads(json.dumps(named(observed, "shop-cron-1")))
    other["Names"] = ["/blog-cron-1"]
    other["Id"] = fake_id("container blog-cron-1")
    other["Labels"][labels.STACK] = "blog"
    observed["containers"].append(other)
    return observed


def missing_network(case: Path) -> Observed:
    observed = deployed(case)
    observed["networks"] = []
    return observed


MUTATIONS: dict[str, Callable[[Path], Observed]] = {
    "empty-host": empty_host,
    "stopped-container": stopped_container,
    "restarting-container": restarting_container,
    "leftover-temp": leftover_temp,
    "image-moved": image_moved,
    "foreign-containers": foreign_containers,
    "missing-network": missing_network,
}


def observed_for(case: Path) -> Observed:
    return MUTATIONS.get(case.name, deployed)(case)


def main(names: list[str]) -> None:
    cases = [HERE / name for name in names] or sorted(p for p in HERE.iterdir() if p.is_dir())
    for case in cases:
        text = json.dumps(observed_for(case), indent=2, sort_keys=True) + "\n"
        (case / "observed.json").write_text(text, encoding="utf-8")
        print(f"wrote {(case / 'observed.json').relative_to(HERE)}")


if __name__ == "__main__":
    main(sys.argv[1:])
