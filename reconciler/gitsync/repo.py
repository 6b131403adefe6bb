"""The local mirror of the manifest repository: fetch a branch, check out its exact tip.

The mirror is a plain (non-bare) repository whose HEAD is always detached at a commit that
was fetched completely. Everything that can fail (reaching the remote, credentials, a missing
branch or path) is done before the working tree is touched, so a failed sync leaves the last
good checkout in place for the daemon to keep running.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath

import git
from git.exc import GitCommandError, GitError, InvalidGitRepositoryError, NoSuchPathError

from reconciler.gitsync.failures import command_failure, fetch_failure
from reconciler.gitsync.lock import exclusive, remove_stale_git_locks
from reconciler.gitsync.remote import (
    credential_env,
    missing_credential,
    parse_remote,
    read_token,
)
from reconciler.state.errors import GitSyncError

GIT_TIMEOUT_S = 120.0
_REMOTE = "origin"
_SHA = re.compile(r"[0-9a-fA-F]{4,64}")
# Every git we start gets this: a prompt would hang the daemon, since nobody can answer it.
_BASE_ENV = {"GIT_TERMINAL_PROMPT": "0"}


@dataclass(frozen=True)
class Revision:
    """One commit, as recorded in deployment history."""

    sha: str  # full commit sha
    subject: str  # first line of the commit message
    author: str  # "Name <email>"
    committed_at: datetime  # tz-aware, in the committer's own offset


@dataclass(frozen=True, repr=False)
class GitSource:
    """Where the manifests live: a repository, a branch and a directory inside it."""

    url: str  # https://..., ssh://..., git@host:path, file:///path, or a local path
    branch: str = "main"
    subpath: str = ""  # directory inside the repo holding stack.yaml ("" = root)
    token_env: str = "RECONCILER_GIT_TOKEN"  # https token read from this env var at fetch time
    ssh_key: Path | None = None  # ssh private key file for ssh URLs

    def __repr__(self) -> str:
        # The URL may embed a credential; show only the stored, secret-free form.
        return (
            f"GitSource(url={parse_remote(self.url).url!r}, branch={self.branch!r}, "
            f"subpath={self.subpath!r}, token_env={self.token_env!r}, ssh_key={self.ssh_key!r})"
        )


def _permanent(message: str) -> GitSyncError:
    """A GitSyncError that retrying cannot fix (bad configuration, unknown commit)."""
    error = GitSyncError(message)
    error.temporary = False
    return error


def _normalized_subpath(subpath: str) -> PurePosixPath:
    """`subpath` as a relative path that cannot leave the repository; raises otherwise."""
    path = PurePosixPath(subpath.strip())
    if path.is_absolute() or ".." in path.parts:
        raise _permanent(f"path {subpath!r} must stay inside the repository")
    return path


def _check_branch_name(branch: str) -> None:
    """Refuses names git would reject, and ones that would change the meaning of the refspec."""
    valid = bool(branch) and not branch.startswith("-")
    if valid:
        try:
            git.Git().execute(
                ["git", "check-ref-format", f"refs/heads/{branch}"],
                env=_BASE_ENV,
                kill_after_timeout=GIT_TIMEOUT_S,
            )
        except GitCommandError:
            valid = False
    if not valid:
        raise _permanent(f"{branch!r} is not a valid branch name")


def _revision(commit: git.Commit) -> Revision:
    """The Revision of `commit`, with a plain fixed-offset timezone rather than GitPython's."""
    message = commit.message
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    committed = commit.committed_datetime
    return Revision(
        sha=commit.hexsha,
        subject=message.split("\n", 1)[0].strip(),
        author=f"{commit.author.name} <{commit.author.email}>",
        committed_at=committed.astimezone(timezone(committed.utcoffset() or timedelta(0))),
    )


def _git(repo: git.Repo, *args: str, env: dict[str, str] | None = None) -> str:
    """Runs git in `repo` with a deadline and prompts disabled; raises GitCommandError."""
    return repo.git.execute(
        ["git", *args], env={**_BASE_ENV, **(env or {})}, kill_after_timeout=GIT_TIMEOUT_S
    )


class GitMirror:
    """A working copy of one branch of a remote repository, checked out at an exact commit.

    "Cloning" is `git init` plus the same fetch every later sync does, so a first sync that
    fails halfway needs no special cleanup. sync() and checkout() are serialized within the
    process, and an flock on the directory keeps two processes from running git in it at once.
    """

    def __init__(self, source: GitSource, workdir: Path) -> None:
        _check_branch_name(source.branch)
        self._source = source
        self._subpath = _normalized_subpath(source.subpath)
        self._remote = parse_remote(source.url)
        self._workdir = workdir
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"GitMirror({self._source!r}, workdir={str(self._workdir)!r})"

    @property
    def manifest_dir(self) -> Path:
        """The directory holding stack.yaml: the workdir, or the subpath inside it."""
        return self._workdir / self._subpath

    def sync(self) -> Revision:
        """Fetches the branch and checks out its tip as a detached HEAD with a clean tree.

        The fetch uses a forced refspec, so force-pushes and rewritten history are followed.
        On any failure the previous checkout is left exactly as it was.
        """
        branch = self._source.branch
        with self._lock, exclusive(self._workdir), self._open() as repo:
            self._point_origin(repo)
            self._fetch(repo)
            sha = self._resolve(repo, f"refs/remotes/{_REMOTE}/{branch}")
            if sha is None:  # fetch succeeded, so only a concurrent deletion gets here
                raise GitSyncError(f"branch '{branch}' does not exist in {self._remote.url}")
            return self._check_out(repo, sha)

    def checkout(self, sha: str) -> Revision:
        """Checks out `sha`, a commit fetched earlier (rollback pinning); nothing is fetched."""
        if not _SHA.fullmatch(sha):
            raise _permanent(f"{sha!r} is not a commit sha")
        with self._lock, exclusive(self._workdir):
            if not (self._workdir / ".git").is_dir():
                raise _permanent(f"commit {sha} is unknown: nothing has been fetched yet")
            with self._open() as repo:
                full = self._resolve(repo, sha)
                if full is None:
                    raise _permanent(f"commit {sha} is unknown to the mirror of {self._remote.url}")
                return self._check_out(repo, full)

    def current(self) -> Revision | None:
        """The commit checked out now, without fetching; None before the first good sync."""
        if not (self._workdir / ".git").is_dir():
            return None
        # No lock: git replaces HEAD atomically, and a status page must not wait for a fetch.
        try:
            with git.Repo(self._workdir) as repo:
                return _revision(repo.head.commit) if repo.head.is_valid() else None
        except (InvalidGitRepositoryError, NoSuchPathError):
            return None
        except (GitError, ValueError) as e:
            raise GitSyncError(f"cannot read the checkout in {self._workdir}") from e

    @contextmanager
    def _open(self) -> Iterator[git.Repo]:
        """The mirror repository, created empty when missing (the first fetch fills it).

        Called under `exclusive`, so lock files left by a killed git can be cleared first.
        """
        git_dir = self._workdir / ".git"
        if git_dir.is_dir():
            remove_stale_git_locks(git_dir)
            try:
                repo = git.Repo(self._workdir)
            except InvalidGitRepositoryError:
                # A clone interrupted while it was being created. The mirror is only a cache of
                # the remote, so start over rather than stay broken until someone steps in.
                shutil.rmtree(git_dir)
        if not git_dir.is_dir():
            try:
                repo = git.Repo.init(self._workdir, env=_BASE_ENV, kill_after_timeout=GIT_TIMEOUT_S)
            except (GitError, OSError) as e:
                raise GitSyncError(f"cannot create a git repository in {self._workdir}") from e
        try:
            yield repo
        finally:
            repo.close()

    def _point_origin(self, repo: git.Repo) -> None:
        """Makes the remote URL in .git/config the configured one (secret-free)."""
        url = self._remote.url
        try:
            if _REMOTE not in [remote.name for remote in repo.remotes]:
                _git(repo, "remote", "add", "--", _REMOTE, url)
            elif repo.remote(_REMOTE).url != url:
                _git(repo, "remote", "set-url", "--", _REMOTE, url)
        except GitCommandError as e:
            raise command_failure("setting the remote URL", e) from e

    def _fetch(self, repo: git.Repo) -> None:
        """Fetches the branch into its remote-tracking ref; touches nothing else."""
        branch = self._source.branch
        key = self._source.ssh_key
        if key is not None and not key.is_file():
            raise GitSyncError(f"ssh key file {key} does not exist")
        token = read_token(self._source.token_env)
        # '+' makes the update forced: a rewritten branch replaces the old tip instead of failing.
        refspec = f"+refs/heads/{branch}:refs/remotes/{_REMOTE}/{branch}"
        try:
            with credential_env(self._remote, token, key) as env:
                # gc in the foreground: a detached gc could hold locks we would then remove.
                fetch = ["fetch", "--no-tags", "--no-recurse-submodules", _REMOTE, refspec]
                _git(repo, "-c", "gc.autoDetach=false", *fetch, env=env)
        except GitCommandError as e:
            secrets = (token, *self._remote.secrets)
            hint = missing_credential(self._remote, token, self._source.token_env)
            raise fetch_failure(
                e, url=self._remote.url, branch=branch, secrets=secrets, auth_hint=hint
            ) from e

    @staticmethod
    def _resolve(repo: git.Repo, rev: str) -> str | None:
        """The full sha of the commit `rev` names in the local repository, or None."""
        try:
            return _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip()
        except GitCommandError:
            return None

    def _check_out(self, repo: git.Repo, sha: str) -> Revision:
        """Makes the working tree exactly `sha`: detached HEAD, no local changes, no extra files."""
        commit = repo.commit(sha)
        self._check_manifest_dir(commit)
        try:
            # --force discards local edits like reset --hard; -ff also removes nested repos.
            _git(repo, "checkout", "--quiet", "--force", "--detach", sha)
            _git(repo, "clean", "-ffdxq")
        except GitCommandError as e:
            raise command_failure(f"checking out {sha[:12]}", e) from e
        return _revision(commit)

    def _check_manifest_dir(self, commit: git.Commit) -> None:
        """Refuses a commit where the subpath is missing, not a directory, or a symlink.

        Checked in the commit's tree before checkout, so a refused commit never replaces the
        last good one; a symlink is refused because it could point outside the repository.
        """
        node: object = commit.tree
        for part in self._subpath.parts:
            try:
                node = node / part if isinstance(node, git.Tree) else None
            except KeyError:
                node = None
            if node is None:
                raise GitSyncError(f"path '{self._subpath}' does not exist at {commit.hexsha[:12]}")
        if not isinstance(node, git.Tree):
            raise GitSyncError(f"path '{self._subpath}' is not a directory at {commit.hexsha[:12]}")
