"""Manifest checks that need the catalog: versions and engine-specific config keys."""

from __future__ import annotations

from reconciler.addons.catalog import CATALOG, check_config
from reconciler.manifests.models import Stack
from reconciler.manifests.yamlread import ParsedFile
from reconciler.state.errors import ManifestIssue


def check_addons(stack: Stack, origins: dict[tuple[str, str], ParsedFile]) -> list[ManifestIssue]:
    issues: list[ManifestIssue] = []
    for name, addon in stack.addons.items():
        source = origins[("addons", name)]
        engine = CATALOG[addon.type]
        if (
            addon.version is not None
            and engine.major_of(addon.version) not in engine.known_majors()
        ):
            known = ", ".join(engine.versions)
            message = (
                f"{engine.name} {addon.version!r} is not a version the catalog knows ({known})"
            )
            issues.append(source.issue(("addons", name, "version"), message))
        for key, problem in check_config(engine, addon.config):
            issues.append(source.issue(("addons", name, "config", key), problem, key=True))
    return issues
