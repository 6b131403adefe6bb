"""Load manifests (with the catalog's checks) and build the desired state in one step."""

from __future__ import annotations

from pathlib import Path

from reconciler.addons.checks import check_addons
from reconciler.desired.build import build_desired
from reconciler.desired.inputs import BuildInputs
from reconciler.manifests.loader import LoadedStack, load_stack
from reconciler.state.model import DesiredStack


def load_manifests(path: Path) -> LoadedStack:
    return load_stack(path, extra_checks=(check_addons,))


def load_desired(
    path: Path, revision: str, inputs: BuildInputs
) -> tuple[LoadedStack, DesiredStack]:
    loaded = load_manifests(path)
    return loaded, build_desired(loaded.stack, revision, inputs, loaded.origins)
