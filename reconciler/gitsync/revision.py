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
        # One git process answers both: the commit (branch.oid) and whether anything changed.
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain=v2", "--branch", "--", "."],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.splitlines()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return LOCAL
    head = next((line.split()[2] for line in status if line.startswith("# branch.oid ")), "")
    dirty = any(not line.startswith("#") for line in status)
    if head == "(initial)":
        return LOCAL
    return LOCAL if dirty or not head else head
