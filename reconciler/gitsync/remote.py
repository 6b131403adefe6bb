"""Remote URLs and credentials: what goes into .git/config, what users see, what git is given.

A credential must never reach the disk, a process's argument list, a log line or an error
message. So the URL stored as the remote carries no secret, and the secret travels only in the
environment of the git process, handed out on request by a private GIT_ASKPASS helper.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

# The helper answers git's two prompts from its own environment, so its file holds no secret.
_ASKPASS_SCRIPT = """#!/bin/sh
# Answers git's credential prompts from the environment; this file holds no secret.
case "$1" in
  Username*) printf '%s\\n' "${RECONCILER_ASKPASS_USERNAME:-x-access-token}" ;;
  *) [ -n "$RECONCILER_ASKPASS_PASSWORD" ] || exit 1
     printf '%s\\n' "$RECONCILER_ASKPASS_PASSWORD" ;;
esac
"""
_ASKPASS_USERNAME = "RECONCILER_ASKPASS_USERNAME"
_ASKPASS_PASSWORD = "RECONCILER_ASKPASS_PASSWORD"

# user@host:path, the scp-like ssh syntax; a drive letter or a path with a slash first is not it.
_SCP_LIKE = re.compile(r"^(?:[^@/:]+@)?[^@/:]{2,}:(?!//)")
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_MIN_SECRET = 4


class Transport(Enum):
    HTTP = "http"
    SSH = "ssh"
    PLAIN = "plain"  # local paths, file:// and git://: nothing to authenticate


@dataclass(frozen=True, repr=False)
class Remote:
    """A parsed remote: the secret-free URL to store and show, plus any embedded credential."""

    transport: Transport
    url: str
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        return f"Remote({self.transport.value}, {self.url!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        """What of the URL must be scrubbed from messages: the password, or a lone user name
        (https://TOKEN@host is a common way to pass a token)."""
        secret = self.password if self.password is not None else self.username
        return (secret,) if secret else ()

    @property
    def secure(self) -> bool:
        """Whether a token may be sent: only over TLS, never in clear text."""
        return self.url.lower().startswith("https://")


def parse_remote(url: str) -> Remote:
    """Splits `url` into a storable URL without secrets and the credential it carried, if any."""
    if _SCP_LIKE.match(url) and "://" not in url:
        return Remote(Transport.SSH, url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https", "ssh", "git+ssh", "ssh+git"):
        host = parts.netloc.rpartition("@")[2]
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        transport = Transport.HTTP if scheme.startswith("http") else Transport.SSH
        if transport is Transport.SSH and username:
            # An ssh user name is not a secret (git@host); only a password is dropped.
            host = f"{parts.netloc.rpartition('@')[0].partition(':')[0]}@{host}"
        stored = urlunsplit((parts.scheme, host, parts.path, parts.query, ""))
        return Remote(transport, stored, username, password)
    if scheme in ("file", "git"):
        return Remote(Transport.PLAIN, url)
    # A plain path; made absolute because git runs with the mirror as its working directory.
    return Remote(Transport.PLAIN, str(Path(url).expanduser().resolve()))


def redact(text: str, *secrets: str | None) -> str:
    """`text` with every given secret and every URL user-info replaced by '***'."""
    for secret in secrets:
        # Shorter strings are no real credential, and replacing them would garble the text.
        if secret and len(secret) >= _MIN_SECRET:
            text = text.replace(secret, "***")
    return _USERINFO.sub("***@", text)


@contextmanager
def credential_env(
    remote: Remote, token: str | None, ssh_key: Path | None
) -> Iterator[dict[str, str]]:
    """Environment for a git command that talks to `remote`, with credentials wired in.

    The askpass helper lives in a private directory that is removed when the command is done.
    """
    if remote.transport is Transport.SSH:
        yield {"GIT_SSH_COMMAND": ssh_command(ssh_key)}
        return
    if remote.transport is not Transport.HTTP:
        yield {}
        return
    password = remote.password
    if password is None and remote.secure:
        password = token
    with tempfile.TemporaryDirectory(prefix="reconciler-askpass-") as private:
        script = Path(private) / "askpass.sh"
        script.write_text(_ASKPASS_SCRIPT)
        script.chmod(stat.S_IRWXU)
        env = {"GIT_ASKPASS": str(script), _ASKPASS_PASSWORD: password or ""}
        if remote.username:
            env[_ASKPASS_USERNAME] = remote.username
        if password:
            # A credential helper (credential.helper=store, say) would save our token to disk.
            env.update(_config_env("credential.helper", ""))
        yield env


def missing_credential(remote: Remote, token: str | None, token_env: str) -> str | None:
    """Why no credential was offered to `remote`, when that explains an authentication failure."""
    if remote.transport is not Transport.HTTP or remote.password is not None:
        return None
    if not remote.secure:
        return "a token is only ever sent over https" if token else "no credential given"
    return None if token else f"no token given (${token_env} is not set)"


def ssh_command(ssh_key: Path | None) -> str:
    """The ssh command line git should use: never prompts, pins host keys on first contact."""
    args = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new"]
    if ssh_key is not None:
        args += ["-i", str(ssh_key), "-o", "IdentitiesOnly=yes"]
    return shlex.join(args)


def _config_env(key: str, value: str) -> dict[str, str]:
    """One git config setting passed through the environment, after any the caller already set.

    The environment rather than `-c`, so that everything credential-related stays in the one
    mapping `credential_env` hands to the git command.
    """
    try:
        count = int(os.environ.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        count = 0
    return {
        "GIT_CONFIG_COUNT": str(count + 1),
        f"GIT_CONFIG_KEY_{count}": key,
        f"GIT_CONFIG_VALUE_{count}": value,
    }


def read_token(token_env: str) -> str | None:
    """The https token from the environment, read at fetch time so rotation needs no restart."""
    return os.environ.get(token_env) or None
