"""Copy repository files to their content-addressed place before a container mounts them."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from reconciler.state.errors import ReconcilerError
from reconciler.state.model import FileMount


def materialize(mounts: tuple[FileMount, ...]) -> None:
    """Ensure each copy exists with the expected content; written atomically, never in place."""
    for mount in mounts:
        target = Path(mount.source)
        if target.is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            shutil.copyfile(mount.origin, temp)
            digest = hashlib.sha256(temp.read_bytes()).hexdigest()
            if digest != mount.digest:
                # The checkout changed between planning and applying: the next pass sees it.
                raise ReconcilerError(f"{mount.origin} changed while applying; retry the apply")
            os.chmod(temp, 0o444)
            os.replace(temp, target)
        except OSError as e:
            raise ReconcilerError(f"cannot copy {mount.origin} for {mount.target}: {e}") from e
        finally:
            temp.unlink(missing_ok=True)
