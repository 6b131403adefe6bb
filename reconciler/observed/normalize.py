"""Turn Docker's list payloads into Live* values; the only place that knows their shape."""

from __future__ import annotations

from typing import Any

from reconciler.observed.port import EngineEvent
from reconciler.state import labels
from reconciler.state.model import LiveContainer, LiveNetwork, LiveVolume


def container_from_summary(summary: dict[str, Any]) -> LiveContainer:
    """A container from one entry of GET /containers/json (no inspect needed)."""
    label_map: dict[str, str] = summary.get("Labels") or {}
    names = summary.get("Names") or ["/"]
    try:
        replica = int(label_map.get(labels.REPLICA, "0"))
    except ValueError:
        replica = 0
    name = str(names[0]).lstrip("/")
    # Labels cannot change after create: a finished replacement, renamed onto its target, still
    # carries the label naming that target. Only a container not yet renamed is a leftover.
    replaces = label_map.get(labels.REPLACES)
    return LiveContainer(
        id=str(summary.get("Id", "")),
        name=name,
        kind=label_map.get(labels.KIND, ""),
        owner=label_map.get(labels.NAME, ""),
        replica=replica,
        state=str(summary.get("State", "")),
        status=str(summary.get("Status", "")),
        image=str(summary.get("Image", "")),
        image_id=str(summary.get("ImageID", "")),
        spec_hash=label_map.get(labels.HASH, ""),
        revision=label_map.get(labels.REVISION, ""),
        spec_doc=label_map.get(labels.SPEC, ""),
        replaces=None if replaces == name else replaces,
        engine=label_map.get(labels.ENGINE, ""),
        version=label_map.get(labels.VERSION, ""),
        deletion_policy=label_map.get(labels.DELETION_POLICY, ""),
        volumes=tuple(
            str(mount["Name"])
            for mount in summary.get("Mounts") or []
            if mount.get("Type") == "volume" and mount.get("Name")
        ),
    )


def network_from_summary(summary: dict[str, Any]) -> LiveNetwork:
    return LiveNetwork(id=str(summary.get("Id", "")), name=str(summary.get("Name", "")))


def volume_from_summary(summary: dict[str, Any]) -> LiveVolume:
    return LiveVolume(name=str(summary.get("Name", "")))


def image_references(images: list[dict[str, Any]]) -> dict[str, str]:
    """Map each local tag and digest reference to its image id."""
    refs: dict[str, str] = {}
    for image in images:
        image_id = str(image.get("Id", ""))
        for ref in (image.get("RepoTags") or []) + (image.get("RepoDigests") or []):
            if ref and not ref.startswith("<none>"):
                refs[ref] = image_id
    return refs


def event_from_message(message: dict[str, Any]) -> EngineEvent:
    """An entry of GET /events; health_status carries its result after a colon, dropped here."""
    actor = message.get("Actor") or {}
    attributes = actor.get("Attributes") or {}
    action = str(message.get("Action") or message.get("status") or "").split(":")[0]
    time_nano = message.get("timeNano") or int(message.get("time") or 0) * 1_000_000_000
    return EngineEvent(
        type=str(message.get("Type", "")),
        action=action,
        id=str(actor.get("ID") or message.get("id") or ""),
        attributes={str(k): str(v) for k, v in attributes.items()},
        time_nano=int(time_nano),
    )
