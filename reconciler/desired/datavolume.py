"""Which data volume an add-on's container mounts, given what is live (pure).

An add-on starts on `{stack}-{name}-data`. A major-version upgrade by dump and restore
(`upgrade: dumpRestore`) never reuses that volume: the new major gets a fresh
`{stack}-{name}-data-{major}` and the old one is kept. From then on the desired spec must name
the volume the live container of that major mounts, or the next pass would see a changed spec
and recreate the add-on on the old major's data. The manifests cannot say which volume that is,
so the choice is made here, from the observed state, before planning:

1. a live add-on container of the wanted major: the data volume it mounts (so merely adding
   `upgrade: dumpRestore`, or any same-major change, keeps the data where it is);
2. a live container of another major and `upgrade: dumpRestore`: the fresh
   `...-data-{major}` the upgrade will create (not listed for creation: the upgrade makes it);
3. no live container (first deployment, `replicas: 0`, or a pass killed between removing the
   old server and starting the new one): `...-data-{major}` when it exists, else `...-data`.
"""

from __future__ import annotations

from dataclasses import replace

from reconciler.addons.catalog import CATALOG
from reconciler.desired.addons import DATA_VOLUME
from reconciler.desired.build import spec_document, spec_hash, volume_name
from reconciler.state import labels
from reconciler.state.model import (
    DesiredStack,
    Kind,
    LiveContainer,
    Observed,
    VolumeMount,
    Workload,
)

DUMP_RESTORE = "dumpRestore"


def base_volume(stack: str, name: str) -> str:
    return volume_name(stack, name, DATA_VOLUME)


def major_volume(stack: str, name: str, major: str) -> str:
    """The fresh volume a dump-and-restore upgrade to `major` creates."""
    return f"{base_volume(stack, name)}-{major}"


def live_addon(observed: Observed, stack: str, name: str) -> LiveContainer | None:
    """The add-on's own container, else another of its containers (an old server renamed by
    an upgrade that was cut short), never a replacement left behind by a crash."""
    mine = sorted(
        (
            c
            for c in observed.containers
            if c.kind == Kind.ADDON.value and c.owner == name and c.replaces is None
        ),
        key=lambda c: (c.name != f"{stack}-{name}", c.name),
    )
    return mine[0] if mine else None


def mounted_data_volume(container: LiveContainer, stack: str, name: str) -> str | None:
    base = base_volume(stack, name)
    return next((v for v in container.volumes if v == base or v.startswith(f"{base}-")), None)


def choose_data_volume(
    stack: str,
    name: str,
    major: str,
    upgrade: str,
    live: tuple[str, str | None] | None,
    volumes: frozenset[str],
) -> tuple[str, bool]:
    """(volume, fresh): the data volume for `major`; fresh when an upgrade will create it.

    `live` is the live container's (major, mounted data volume), None when there is none.
    """
    if live is not None:
        live_major, mounted = live
        if live_major == major:
            return mounted or base_volume(stack, name), False
        if upgrade == DUMP_RESTORE:
            return major_volume(stack, name, major), True
        return mounted or base_volume(stack, name), False
    versioned = major_volume(stack, name, major)
    return (versioned if versioned in volumes else base_volume(stack, name)), False


def bind_data_volumes(desired: DesiredStack, observed: Observed) -> DesiredStack:
    """`desired` with each add-on mounting the data volume chosen by `choose_data_volume`."""
    volumes = frozenset(v.name for v in observed.volumes)
    workloads: list[Workload] = []
    wanted_volumes = set(desired.volumes)
    for workload in desired.workloads:
        bound, old, new, fresh = _bind(desired.stack, workload, observed, volumes)
        workloads.append(bound)
        if old != new:
            wanted_volumes.discard(old)
            if not fresh:
                wanted_volumes.add(new)
    if workloads == list(desired.workloads) and wanted_volumes == set(desired.volumes):
        return desired
    return replace(desired, workloads=tuple(workloads), volumes=tuple(sorted(wanted_volumes)))


def _bind(
    stack: str, workload: Workload, observed: Observed, volumes: frozenset[str]
) -> tuple[Workload, str, str, bool]:
    """(workload, old volume, new volume, fresh) for one workload; apps pass through."""
    base = base_volume(stack, workload.name)
    if workload.kind is not Kind.ADDON or not workload.replicas:
        return workload, base, base, False
    spec_labels = dict(workload.replicas[0].user_labels)
    engine = CATALOG.get(spec_labels.get(labels.ENGINE, ""))
    if engine is None:
        return workload, base, base, False
    major = engine.major_of(spec_labels.get(labels.VERSION, ""))
    container = live_addon(observed, stack, workload.name)
    live = None
    if container is not None:
        live_major = engine.major_of(container.version) if container.version else major
        live = (live_major, mounted_data_volume(container, stack, workload.name))
    volume, fresh = choose_data_volume(stack, workload.name, major, workload.upgrade, live, volumes)
    if volume == base:
        return workload, base, base, fresh
    return _with_volume(workload, base, volume), base, volume, fresh


def _with_volume(workload: Workload, old: str, new: str) -> Workload:
    def swap(mounts: tuple[VolumeMount, ...]) -> tuple[VolumeMount, ...]:
        # Any data volume of this add-on: binding an already bound stack again must still work.
        return tuple(
            replace(m, volume=new) if m.volume == old or m.volume.startswith(f"{old}-") else m
            for m in mounts
        )

    replicas = tuple(replace(spec, volumes=swap(spec.volumes)) for spec in workload.replicas)
    doc = spec_document(replicas[0])
    return replace(
        workload,
        replicas=replicas,
        spec_doc=doc,
        spec_hash=spec_hash(doc, workload.secret_digest),
    )
