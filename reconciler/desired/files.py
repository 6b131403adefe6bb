"""`files:` of apps: repository files mounted read-only, named by the digest of their content.

The digest is part of the spec, so editing a file restarts exactly the apps that mount it; the
copy is content-addressed, so a later checkout never changes a file under a running container.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from reconciler.desired.inputs import BuildInputs
from reconciler.manifests.models import App
from reconciler.state.errors import ManifestIssue
from reconciler.state.model import FileMount

MAX_FILE_BYTES = 1024 * 1024


def repo_files(
    name: str,
    app: App,
    inputs: BuildInputs | None,
    issues: list[ManifestIssue],
    origins: dict[tuple[str, str], Any] | None,
) -> tuple[FileMount, ...]:
    if not app.files:
        return ()
    if inputs is None or inputs.root is None or inputs.files_dir is None:
        _issue(issues, origins, name, next(iter(app.files)), "files need a repository checkout")
        return ()
    root = inputs.root.resolve()
    mounts = []
    for target, relative in sorted(app.files.items()):
        path = (root / relative).resolve()
        problem = _problem(path, root, relative)
        if problem:
            _issue(issues, origins, name, target, problem)
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        copy = inputs.files_dir.resolve() / digest[:2] / f"{digest}-{path.name}"
        mounts.append(FileMount(target, str(path), str(copy), digest))
    return tuple(mounts)


def _problem(path: Path, root: Path, relative: str) -> str | None:
    if not path.is_relative_to(root):
        return f"{relative!r} resolves outside the repository"
    if not path.is_file():
        return f"{relative!r} is not a file in the repository"
    if path.stat().st_size > MAX_FILE_BYTES:
        return f"{relative!r} is larger than {MAX_FILE_BYTES} bytes"
    return None


def _issue(
    issues: list[ManifestIssue],
    origins: dict[tuple[str, str], Any] | None,
    name: str,
    target: str,
    message: str,
) -> None:
    source = origins.get(("apps", name)) if origins else None
    if source is not None:
        issues.append(source.issue(("apps", name, "files", target), message))
    else:
        issues.append(ManifestIssue("stack.yaml", 1, 1, f"apps.{name}.files.{target}", message))
