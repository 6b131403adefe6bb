"""Webhook authenticity: the providers' signature schemes, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

PROVIDERS = ("github", "gitlab", "gitea", "generic")


@dataclass(frozen=True)
class Delivery:
    """What the headers say about one delivery, once its signature checked out."""

    event: str  # push | ping | other
    delivery_id: str | None


def _hmac_hex(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(provider: str, secret: bytes, headers: Mapping[str, str], body: bytes) -> bool:
    """True only when the request carries a valid signature (or token) for `secret`."""
    if not secret:
        return False
    expected = _hmac_hex(secret, body)
    if provider == "github":
        given = headers.get("X-Hub-Signature-256", "")
        return hmac.compare_digest(given.encode(), f"sha256={expected}".encode())
    if provider == "gitlab":
        return hmac.compare_digest(headers.get("X-Gitlab-Token", "").encode(), secret)
    if provider == "gitea":
        return hmac.compare_digest(headers.get("X-Gitea-Signature", "").encode(), expected.encode())
    if provider == "generic":
        given = headers.get("X-Signature-256", "").removeprefix("sha256=")
        return hmac.compare_digest(given.encode(), expected.encode())
    return False


def describe(provider: str, headers: Mapping[str, str]) -> Delivery:
    if provider == "github":
        event = headers.get("X-GitHub-Event", "push")
        return Delivery(event, headers.get("X-GitHub-Delivery"))
    if provider == "gitlab":
        raw = headers.get("X-Gitlab-Event", "Push Hook")
        event = "push" if raw in ("Push Hook", "Tag Push Hook") else raw.lower()
        return Delivery(event, headers.get("X-Gitlab-Event-UUID"))
    if provider == "gitea":
        return Delivery(headers.get("X-Gitea-Event", "push"), headers.get("X-Gitea-Delivery"))
    return Delivery("push", headers.get("X-Delivery-Id"))


def pushed_branch(payload: object) -> str | None:
    """The branch a push payload names (all four providers use `ref`); None when absent."""
    if isinstance(payload, dict):
        ref = payload.get("ref")
        if isinstance(ref, str) and ref.startswith("refs/heads/"):
            return ref.removeprefix("refs/heads/")
    return None
