"""What a backup name means for a stack: which container or volume, which engine, which policy.

Pure: derived from the validated manifests and the catalog, so no credential is created and
nothing is asked of Docker to know what a backup will do.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from reconciler.addons.catalog import CATALOG
from reconciler.addons.spec import Engine
from reconciler.backups.engines import (
    TAR_END,
    TAR_MAGIC,
    TAR_MAGIC_OFFSET,
    EngineBackup,
    behaviour,
)
from reconciler.backups.outputcheck import DumpShape
from reconciler.backups.retention import Policy
from reconciler.desired.addons import DATA_VOLUME
from reconciler.desired.build import volume_name
from reconciler.manifests.models import Backup, Stack
from reconciler.state.errors import BackupError

ADDON, VOLUME = "addon", "volume"
VOLUME_MOUNT = "/volume"


@dataclass(frozen=True)
class Target:
    """One thing to back up or restore into, resolved against the manifests."""

    stack: str
    source: str  # the add-on's name, or APP-VOLUME
    job: str  # the declared backup's name, "" when none declares this source
    kind: str  # addon | volume
    engine: Engine | None  # None for an app's volume
    version: str
    container: str  # the add-on's container; "" for an app's volume
    volume: str  # the Docker volume holding the data
    mount: str  # where helpers mount `volume`
    image: str  # the add-on's image (throwaway copies use the same)
    helper_image: str
    apps: tuple[str, ...]  # apps stopped while restoring
    verify: bool = False
    policy: Policy | None = None
    timezone: str = "UTC"

    @property
    def handling(self) -> EngineBackup:
        return behaviour(self.engine) if self.engine else EngineBackup(volume_tar=True)

    @property
    def tar(self) -> bool:
        return self.handling.volume_tar

    @property
    def shape(self) -> DumpShape:
        """How every whole dump of this target starts and ends."""
        if self.tar:
            return DumpShape(TAR_MAGIC, TAR_MAGIC_OFFSET, trailer=TAR_END, trailer_window=1024)
        h = self.handling
        return DumpShape(h.magic, h.magic_offset, h.magic_window, h.trailer, h.trailer_window)

    @property
    def compressed(self) -> bool:
        """Whether the reconciler gzips the stream (not when the dump is compressed already)."""
        return not self.handling.precompressed

    @property
    def extension(self) -> str:
        base = "tar" if self.tar or self.engine is None else self.engine.backup_extension
        base = base.removesuffix(".gz") if self.tar else base
        return f"{base}.gz" if self.compressed else base


def resolve(stack: Stack, name: str) -> Target:
    """A declared backup by its name, or an add-on by its name (its declared backup, if any)."""
    backup = stack.backups.get(name)
    if backup is not None:
        return _declared(stack, name, backup)
    if name in stack.addons:
        declared = [n for n, b in sorted(stack.backups.items()) if b.addon == name]
        if declared:
            return _declared(stack, declared[0], stack.backups[declared[0]])
        return addon_target(stack, name)
    choices = ", ".join(sorted({*stack.backups, *stack.addons})) or "none"
    raise BackupError(f"no backup or add-on named {name!r} in stack {stack.stack} ({choices})")


def _declared(stack: Stack, name: str, backup: Backup) -> Target:
    if backup.addon is not None:
        target = addon_target(stack, backup.addon)
    else:
        assert backup.volume is not None  # the model requires exactly one of the two
        target = volume_target(stack, backup.volume.app, backup.volume.name)
    return replace(target, job=name, verify=backup.verify, policy=Policy.of(backup.retention))


def addon_target(stack: Stack, addon_name: str) -> Target:
    addon = stack.addons.get(addon_name)
    if addon is None:
        known = ", ".join(sorted(stack.addons)) or "none"
        raise BackupError(f"no add-on named {addon_name!r} in stack {stack.stack} ({known})")
    engine = CATALOG[addon.type]
    version = addon.version or engine.default_version
    return Target(
        stack=stack.stack,
        source=addon_name,
        job="",
        kind=ADDON,
        engine=engine,
        version=version,
        container=f"{stack.stack}-{addon_name}",
        volume=volume_name(stack.stack, addon_name, DATA_VOLUME),
        mount=VOLUME_MOUNT if behaviour(engine).volume_tar else engine.data_path,
        image=engine.image(version, stack.settings.images.get(engine.name)),
        helper_image=stack.settings.helper_image,
        apps=tuple(sorted(n for n, app in stack.apps.items() if addon_name in app.addons)),
        timezone=stack.settings.timezone,
    )


def volume_target(stack: Stack, app_name: str, volume: str) -> Target:
    return Target(
        stack=stack.stack,
        source=f"{app_name}-{volume}",
        job="",
        kind=VOLUME,
        engine=None,
        version="",
        container="",
        volume=volume_name(stack.stack, app_name, volume),
        mount=VOLUME_MOUNT,
        image="",
        helper_image=stack.settings.helper_image,
        apps=(app_name,),
        timezone=stack.settings.timezone,
    )


def source_targets(stack: Stack) -> dict[str, Target]:
    """Every declared backup's target by source, for retention at prune time."""
    return {t.source: t for t in (_declared(stack, n, b) for n, b in sorted(stack.backups.items()))}
