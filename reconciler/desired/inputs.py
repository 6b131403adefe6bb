"""What building the desired state needs from outside: credentials, secrets, a hash key.

Protocols only; the engine wires in implementations that read files, so this layer stays pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from reconciler.addons.spec import Credentials

REFERENCE = re.compile(r"\$\{(secret|env):([A-Za-z0-9_.-]+)\}")


class CredentialSource(Protocol):
    def credentials(self, stack: str, addon: str, user: str, database: str) -> Credentials:
        """The add-on's credentials, generated on first use and stable afterwards."""
        ...


class SecretSource(Protocol):
    def secret(self, name: str) -> str | None: ...


class NoSecrets:
    def secret(self, name: str) -> str | None:
        return None


@dataclass(frozen=True)
class BuildInputs:
    credentials: CredentialSource
    secrets: SecretSource = field(default_factory=NoSecrets)
    environ: Mapping[str, str] = field(default_factory=dict)
    #: Keys the digest of secret values, so the visible hash reveals nothing guessable.
    #: A callable, so hosts whose stacks hold no secret never create a key file.
    hash_key: Callable[[], bytes] = bytes
    #: The repository checkout (for `files:`) and where content-addressed copies are kept.
    root: Path | None = None
    files_dir: Path | None = None


class UnresolvedReference(Exception):
    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"{kind} {name!r} is not defined")
        self.kind = kind
        self.name = name


def resolve_references(value: str, inputs: BuildInputs) -> tuple[str, bool]:
    """Expand ${secret:NAME} and ${env:NAME}; return the value and whether it holds a secret."""
    found = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal found
        found = True
        kind, name = match.group(1), match.group(2)
        resolved = inputs.secrets.secret(name) if kind == "secret" else inputs.environ.get(name)
        if resolved is None:
            raise UnresolvedReference(kind, name)
        return resolved

    return REFERENCE.sub(substitute, value), found
