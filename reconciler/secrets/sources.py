"""Where ${secret:NAME} values come from: age files in the repo, or a plain directory outside it."""

from __future__ import annotations

from pathlib import Path

from reconciler.state.errors import ReconcilerError

MAX_SECRET_BYTES = 64 * 1024


class SecretError(ReconcilerError):
    """A secret exists but cannot be read or decrypted (the message never holds its value)."""


class FileSecrets:
    """`secrets/NAME.age` in the repo (decrypted with an age identity), else `DIR/NAME`."""

    def __init__(
        self, repo_root: Path, identity_file: Path | None = None, plain_dir: Path | None = None
    ) -> None:
        self.age_dir = repo_root / "secrets"
        self.identity_file = identity_file
        self.plain_dir = plain_dir
        self._identities: list[object] | None = None

    def secret(self, name: str) -> str | None:
        encrypted = self.age_dir / f"{name}.age"
        if encrypted.is_file():
            return self._decrypt(encrypted)
        if self.plain_dir is not None:
            plain = self.plain_dir / name
            if plain.is_file():
                return _read_limited(plain).decode("utf-8").rstrip("\n")
        return None

    def _decrypt(self, path: Path) -> str:
        import pyrage

        if self.identity_file is None:
            raise SecretError(
                f"{path.name} is age-encrypted but no identity was given "
                "(--age-identity or RECONCILER_AGE_IDENTITY)"
            )
        if self._identities is None:
            self._identities = _load_identities(self.identity_file)
        try:
            plain = pyrage.decrypt(_read_limited(path), self._identities)
        except Exception as e:  # pyrage raises its own DecryptError; the text names no secret
            raise SecretError(f"cannot decrypt {path.name} with the given identity") from e
        return bytes(plain).decode("utf-8").rstrip("\n")


def _load_identities(identity_file: Path) -> list[object]:
    import pyrage

    try:
        lines = identity_file.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise SecretError(f"cannot read age identity file {identity_file}: {e.strerror}") from e
    keys = [line.strip() for line in lines if line.strip().startswith("AGE-SECRET-KEY-")]
    if not keys:
        raise SecretError(f"{identity_file} holds no AGE-SECRET-KEY line")
    return [pyrage.x25519.Identity.from_str(key) for key in keys]


def _read_limited(path: Path) -> bytes:
    data = path.read_bytes()
    if len(data) > MAX_SECRET_BYTES:
        raise SecretError(f"{path.name} is larger than {MAX_SECRET_BYTES} bytes")
    return data
