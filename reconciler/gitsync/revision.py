"""Which git commit a manifest directory is at, for the revision label (or 'local')."""

from __future__ import annotations

import subprocess
from pathlib import Path

LOCAL = "local"


def local_revision(root: Path) -> str:
    """The HEAD commit when `root` is a clean git checkout; 'local' otherwise.

    A dirty tree is not any commit, so labelling it with HEAD would lie about what runs.
    """
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "."],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return LOCAL
    return LOCAL if dirty or not head else head
