"""Add-on credentials generated once, kept in the state directory with owner-only permissions."""

from __future__ import annotations

import json
import os
import secrets
import threading
from pathlib import Path

from reconciler.addons.spec import Credentials
from reconciler.state.errors import ReconcilerError


class CredentialStore:
    """state_dir/credentials/STACK/ADDON.json (0600 in a 0700 directory), written atomically."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "credentials"
        self._lock = threading.Lock()
        #: (stack, add-on) pairs whose credentials this process created.
        self.generated: set[tuple[str, str]] = set()

    def path(self, stack: str, addon: str) -> Path:
        return self.root / stack / f"{addon}.json"

    def credentials(self, stack: str, addon: str, user: str, database: str) -> Credentials:
        with self._lock:
            existing = self.load(stack, addon)
            if existing is not None:
                return existing
            created = Credentials(user=user, password=secrets.token_urlsafe(24), database=database)
            self._write(stack, addon, created)
            self.generated.add((stack, addon))
            return created

    def forget_generated(self, stack: str, addon: str) -> None:
        """Drop credentials made in this process (they turned out to be unusable)."""
        with self._lock:
            if (stack, addon) in self.generated:
                self.path(stack, addon).unlink(missing_ok=True)
                self.generated.discard((stack, addon))

    def load(self, stack: str, addon: str) -> Credentials | None:
        path = self.path(stack, addon)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Credentials(str(data["user"]), str(data["password"]), str(data["database"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as e:
            # Regenerating would lock apps out of existing data: refuse and say where to look.
            raise ReconcilerError(
                f"credentials file {path} is unreadable: {type(e).__name__}"
            ) from e

    def replace(self, stack: str, addon: str, creds: Credentials) -> None:
        with self._lock:
            self._write(stack, addon, creds)

    def rotate(self, stack: str, addon: str) -> Credentials:
        with self._lock:
            current = self.load(stack, addon)
            if current is None:
                raise ReconcilerError(f"add-on {addon} has no credentials yet")
            rotated = Credentials(current.user, secrets.token_urlsafe(24), current.database)
            self._write(stack, addon, rotated)
            return rotated

    def _write(self, stack: str, addon: str, creds: Credentials) -> None:
        path = self.path(stack, addon)
        for directory in (self.root.parent, self.root, path.parent):
            directory.mkdir(mode=0o700, exist_ok=True)
            os.chmod(directory, 0o700)
        temp = path.with_suffix(".tmp")
        payload = {"user": creds.user, "password": creds.password, "database": creds.database}
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)


def hash_key(state_dir: Path) -> bytes:
    """A random per-host key (created once) that keys the digest of secret values."""
    path = state_dir / "hash.key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
        return key
