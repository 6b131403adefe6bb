"""Turns a failed git command into a GitSyncError whose reason a user can act on.

git reports every remote failure as exit code 128, so the reason is read from its stderr
(always in English: GitPython runs git with LC_ALL=C). Secrets are scrubbed from whatever
git printed before it becomes part of a message.
"""

from __future__ import annotations

import re

from git.exc import GitCommandError

from reconciler.gitsync.remote import redact
from reconciler.state.errors import GitSyncError

_MISSING_REF = re.compile(r"couldn't find remote ref", re.I)
_TIMEOUT = re.compile(r"did not complete in|timed out", re.I)
_AUTH = re.compile(
    r"authentication failed|could not read (username|password)|terminal prompts disabled"
    # ssh's "Permission denied (publickey)", not a local file that cannot be written.
    r"|permission denied( \(|, please)|returned error: 40[13]|access denied"
    r"|invalid (username|credentials)"
    r"|unprotected private key|load key|no such identity|askpass",
    re.I,
)
# Lines git prints after the real reason; they say nothing a user can act on.
_BOILERPLATE = re.compile(
    r"^(please make sure you have the correct access rights|and the repository exists"
    r"|could not read from remote repository|hint:)",
    re.I,
)
_PREFIX = re.compile(r"^(fatal|error|remote|warning):\s*", re.I)
_MAX_DETAIL = 300


def stderr_of(error: GitCommandError) -> str:
    """git's own stderr, unwrapped from the "stderr: '...'" framing GitPython adds."""
    text = str(error.stderr or "")
    framed = re.fullmatch(r"\s*stderr: '(.*)'\s*", text, re.S)
    return framed.group(1) if framed else text


def detail(error: GitCommandError, secrets: tuple[str | None, ...] = ()) -> str:
    """The lines of git's stderr that explain the failure, on one line, without secrets."""
    lines = [_PREFIX.sub("", line.strip()) for line in stderr_of(error).splitlines()]
    lines = [line for line in lines if line]
    useful = [line for line in lines if not _BOILERPLATE.match(line)] or lines
    text = "; ".join(dict.fromkeys(useful[:3])) or f"git exited with status {error.status}"
    text = redact(text, *secrets)
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."


def fetch_failure(
    error: GitCommandError,
    *,
    url: str,
    branch: str,
    secrets: tuple[str | None, ...],
    auth_hint: str | None = None,
) -> GitSyncError:
    """The error for a failed fetch of `branch` from `url` (a URL already free of secrets).

    `auth_hint` replaces git's own words when a credential is rejected: git can only say that
    it failed, while the caller may know why (no token was configured, say).
    """
    stderr = stderr_of(error)
    if _MISSING_REF.search(stderr):
        return GitSyncError(f"branch '{branch}' does not exist in {url}")
    if _TIMEOUT.search(stderr):
        return GitSyncError(f"cannot reach {url}: timed out")
    why = detail(error, secrets)
    if _AUTH.search(stderr):
        return GitSyncError(f"authentication failed for {url}: {auth_hint or why}")
    return GitSyncError(f"cannot reach {url}: {why}")


def command_failure(
    action: str, error: GitCommandError, secrets: tuple[str | None, ...] = ()
) -> GitSyncError:
    """The error for a failed local git command (checkout, clean, ...)."""
    return GitSyncError(f"{action} failed: {detail(error, secrets)}")
