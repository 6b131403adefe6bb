"""API tokens: shown once at creation, stored only as a hash, each with its scopes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from dataclasses import dataclass

from reconciler.state.errors import ReconcilerError
from reconciler.store.db import Database
from reconciler.store.deployments import now

SCOPES = (
    "apps:read",
    "addons:read",
    "addons:credentials",
    "backups:read",
    "backups:write",
    "backups:restore",
    "deployments:read",
    "reconcile:trigger",
    "admin",
)
PREFIX = "rcl_"


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    scopes: frozenset[str]
    created_at: str
    last_used_at: str | None

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, name: str, scopes: list[str]) -> str:
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown:
            raise ReconcilerError(
                f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}"
            )
        if not scopes:
            raise ReconcilerError("a token needs at least one scope")
        token = PREFIX + secrets.token_urlsafe(32)
        try:
            self.db.execute(
                "INSERT INTO api_tokens (name, token_hash, scopes, created_at) VALUES (?, ?, ?, ?)",
                (name, _digest(token), ",".join(sorted(set(scopes))), now()),
            )
        except sqlite3.IntegrityError as e:
            raise ReconcilerError(f"a token named {name!r} already exists") from e
        return token

    def verify(self, token: str) -> TokenInfo | None:
        if not token.startswith(PREFIX):
            return None
        digest = _digest(token)
        rows = self.db.query("SELECT * FROM api_tokens WHERE token_hash = ?", (digest,))
        # The lookup is by hash; the compare guards against any future change to that lookup.
        if not rows or not hmac.compare_digest(rows[0]["token_hash"], digest):
            return None
        self.db.execute(
            "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now(), rows[0]["id"])
        )
        return _info(rows[0])

    def list(self) -> list[TokenInfo]:
        return [_info(row) for row in self.db.query("SELECT * FROM api_tokens ORDER BY id")]

    def revoke(self, name: str) -> bool:
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM api_tokens WHERE name = ?", (name,)).rowcount > 0


def _info(row: sqlite3.Row) -> TokenInfo:
    return TokenInfo(
        id=int(row["id"]),
        name=str(row["name"]),
        scopes=frozenset(str(row["scopes"]).split(",")),
        created_at=str(row["created_at"]),
        last_used_at=row["last_used_at"],
    )
