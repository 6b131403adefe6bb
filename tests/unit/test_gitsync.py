"""GitMirror against real git: a bare "remote" in tmp_path and a clone that pushes to it."""

from __future__ import annotations

import fcntl
import os
import subprocess
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from git.exc import GitCommandError

from reconciler.gitsync import repo as repo_module
from reconciler.gitsync.failures import fetch_failure
from reconciler.gitsync.remote import Transport, parse_remote, redact, ssh_command
from reconciler.gitsync.repo import GitMirror, GitSource
from reconciler.state.errors import GitSyncError

CANARY = "canary-XYZ"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=30
    ).stdout.strip()


class Upstream:
    """A bare repository (the remote) and a working clone used to commit and push to it."""

    def __init__(self, root: Path) -> None:
        self.bare = root / "remote.git"
        self.work = root / "author"
        git(root, "init", "--quiet", "--bare", "--initial-branch=main", str(self.bare))
        git(root, "clone", "--quiet", str(self.bare), str(self.work))
        git(self.work, "checkout", "--quiet", "-B", "main")

    @property
    def url(self) -> str:
        return self.bare.as_uri()

    def commit(self, message: str, files: dict[str, str | None], *, push: bool = True) -> str:
        """Writes (or, for None, deletes) files, commits them and pushes main; returns the sha."""
        for name, content in files.items():
            path = self.work / name
            if content is None:
                git(self.work, "rm", "-r", "--quiet", name)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            git(self.work, "add", name)
        git(self.work, "commit", "--quiet", "-m", message)
        if push:
            git(self.work, "push", "--quiet", "origin", "main")
        return git(self.work, "rev-parse", "HEAD")


@pytest.fixture(autouse=True)
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keeps the machine's git config and identity out of the tests."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Alice Example")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "alice@example.com")
    monkeypatch.delenv("RECONCILER_GIT_TOKEN", raising=False)


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    up = Upstream(tmp_path)
    up.commit("add stack\n\nThe first manifests.", {"stack.yaml": "apps: {}\n"})
    return up


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path / "state" / "repo"


@pytest.fixture
def mirror(upstream: Upstream, workdir: Path) -> GitMirror:
    return GitMirror(GitSource(url=upstream.url), workdir)


def head(workdir: Path) -> str:
    return git(workdir, "rev-parse", "HEAD")


def assert_clean_at(workdir: Path, sha: str) -> None:
    assert head(workdir) == sha
    assert git(workdir, "status", "--porcelain", "--ignored") == ""


def all_text_under(root: Path) -> Iterator[bytes]:
    for path in root.rglob("*"):
        if path.is_file():
            yield path.read_bytes()


# --- sync -------------------------------------------------------------------------------------


def test_nothing_is_checked_out_before_the_first_sync(mirror: GitMirror) -> None:
    assert mirror.current() is None


def test_first_sync_clones_and_returns_the_tip(
    mirror: GitMirror, upstream: Upstream, workdir: Path
) -> None:
    revision = mirror.sync()

    assert revision.sha == git(upstream.work, "rev-parse", "HEAD")
    assert len(revision.sha) == 40
    assert revision.subject == "add stack"
    assert revision.author == "Alice Example <alice@example.com>"
    assert revision.committed_at.utcoffset() is not None
    assert (mirror.manifest_dir / "stack.yaml").read_text() == "apps: {}\n"
    assert mirror.manifest_dir == workdir
    assert mirror.current() == revision
    # Detached: no local branch exists that could diverge from the remote.
    with pytest.raises(subprocess.CalledProcessError):
        git(workdir, "symbolic-ref", "-q", "HEAD")


def test_a_new_commit_is_followed(mirror: GitMirror, upstream: Upstream, workdir: Path) -> None:
    mirror.sync()
    sha = upstream.commit("scale web", {"stack.yaml": "apps: {web: {}}\n"})

    revision = mirror.sync()

    assert revision.sha == sha
    assert revision.subject == "scale web"
    assert (workdir / "stack.yaml").read_text() == "apps: {web: {}}\n"
    assert_clean_at(workdir, sha)


def test_sync_without_changes_returns_the_same_revision(mirror: GitMirror) -> None:
    assert mirror.sync() == mirror.sync()


def test_a_force_push_rewriting_history_is_followed(
    mirror: GitMirror, upstream: Upstream, workdir: Path
) -> None:
    upstream.commit("add extra", {"extra.yaml": "x: 1\n"})
    mirror.sync()
    git(upstream.work, "reset", "--quiet", "--hard", "HEAD~1")
    rewritten = upstream.commit("something else", {"other.yaml": "y: 2\n"}, push=False)
    git(upstream.work, "push", "--quiet", "--force", "origin", "main")

    revision = mirror.sync()

    assert revision.sha == rewritten
    assert not (workdir / "extra.yaml").exists()
    assert (workdir / "other.yaml").read_text() == "y: 2\n"
    assert_clean_at(workdir, rewritten)


def test_local_modifications_are_wiped(
    mirror: GitMirror, upstream: Upstream, workdir: Path
) -> None:
    sha = upstream.commit("ignore logs", {".gitignore": "*.log\n"})
    mirror.sync()
    (workdir / "stack.yaml").write_text("edited by hand\n")
    (workdir / "stray.yaml").write_text("untracked\n")
    (workdir / "debug.log").write_text("ignored\n")
    (workdir / "nested" / "dir").mkdir(parents=True)
    (workdir / "nested" / "dir" / "f").write_text("deep\n")
    git(workdir, "rm", "--quiet", "--cached", ".gitignore")

    assert mirror.sync().sha == sha

    assert (workdir / "stack.yaml").read_text() == "apps: {}\n"
    assert sorted(p.name for p in workdir.iterdir()) == [".git", ".gitignore", "stack.yaml"]
    assert_clean_at(workdir, sha)


# --- failures keep the last good checkout -----------------------------------------------------


def test_a_missing_branch_names_it_and_keeps_the_checkout(
    mirror: GitMirror, upstream: Upstream, workdir: Path
) -> None:
    good = mirror.sync()
    other = GitMirror(GitSource(url=upstream.url, branch="release-9"), workdir)

    with pytest.raises(GitSyncError) as caught:
        other.sync()

    assert str(caught.value) == f"branch 'release-9' does not exist in {upstream.url}"
    assert caught.value.temporary
    assert caught.value.__cause__ is not None
    assert other.current() == good
    assert_clean_at(workdir, good.sha)


def test_an_unreachable_remote_keeps_the_checkout(mirror: GitMirror, workdir: Path) -> None:
    good = mirror.sync()
    gone = GitMirror(GitSource(url="file:///nonexistent/repo.git"), workdir)

    with pytest.raises(GitSyncError, match=r"^cannot reach file:///nonexistent/repo\.git: "):
        gone.sync()

    assert gone.current() == good
    assert (workdir / "stack.yaml").read_text() == "apps: {}\n"
    assert_clean_at(workdir, good.sha)


def test_an_unreachable_remote_on_first_sync_leaves_nothing_checked_out(workdir: Path) -> None:
    gone = GitMirror(GitSource(url="file:///nonexistent/repo.git"), workdir)
    with pytest.raises(GitSyncError, match="cannot reach"):
        gone.sync()
    assert gone.current() is None


def test_the_mirror_recovers_once_the_remote_is_back(upstream: Upstream, workdir: Path) -> None:
    moved = upstream.bare.with_name("moved.git")
    upstream.bare.rename(moved)
    mirror = GitMirror(GitSource(url=upstream.url), workdir)
    with pytest.raises(GitSyncError):
        mirror.sync()
    moved.rename(upstream.bare)
    assert mirror.sync().subject == "add stack"


def test_a_git_command_that_hangs_is_killed(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A loopback socket that accepts connections but never speaks: fetch would wait forever.
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        monkeypatch.setattr(repo_module, "GIT_TIMEOUT_S", 1.0)
        silent = GitMirror(GitSource(url=f"https://127.0.0.1:{port}/repo.git"), workdir)
        with pytest.raises(GitSyncError, match=r"cannot reach .*: timed out"):
            silent.sync()


def test_stale_lock_files_from_a_killed_git_are_cleared(
    mirror: GitMirror, upstream: Upstream, workdir: Path
) -> None:
    mirror.sync()
    (workdir / ".git" / "index.lock").write_text("")
    (workdir / ".git" / "refs" / "remotes" / "origin" / "main.lock").write_text("")
    sha = upstream.commit("after crash", {"stack.yaml": "apps: {a: {}}\n"})

    assert mirror.sync().sha == sha


def test_a_damaged_mirror_is_recreated(mirror: GitMirror, workdir: Path) -> None:
    (workdir / ".git").mkdir(parents=True)  # as if killed right after creating it
    assert mirror.sync().subject == "add stack"


def test_another_process_holding_the_mirror_is_refused(mirror: GitMirror, workdir: Path) -> None:
    workdir.mkdir(parents=True)
    fd = os.open(workdir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(GitSyncError, match="in use by another reconciler process"):
            mirror.sync()
    finally:
        os.close(fd)
    assert mirror.sync().subject == "add stack"


@pytest.mark.parametrize("branch", ["", "-x", "a:b", "a..b", "feat/*", "with space"])
def test_invalid_branch_names_are_refused(upstream: Upstream, workdir: Path, branch: str) -> None:
    with pytest.raises(GitSyncError, match="not a valid branch name") as caught:
        GitMirror(GitSource(url=upstream.url, branch=branch), workdir)
    assert not caught.value.temporary


def test_a_branch_other_than_main(upstream: Upstream, workdir: Path) -> None:
    git(upstream.work, "checkout", "--quiet", "-b", "release/1.x")
    (upstream.work / "stack.yaml").write_text("apps: {release: {}}\n")
    git(upstream.work, "commit", "--quiet", "-am", "release")
    git(upstream.work, "push", "--quiet", "origin", "release/1.x")

    mirror = GitMirror(GitSource(url=str(upstream.bare), branch="release/1.x"), workdir)

    assert mirror.sync().subject == "release"
    assert (mirror.manifest_dir / "stack.yaml").read_text() == "apps: {release: {}}\n"


# --- subpath ----------------------------------------------------------------------------------


def test_a_subpath_is_the_manifest_dir(upstream: Upstream, workdir: Path) -> None:
    upstream.commit("prod", {"deploy/prod/stack.yaml": "apps: {prod: {}}\n"})
    mirror = GitMirror(GitSource(url=upstream.url, subpath="deploy/prod/"), workdir)

    mirror.sync()

    assert mirror.manifest_dir == workdir / "deploy" / "prod"
    assert (mirror.manifest_dir / "stack.yaml").read_text() == "apps: {prod: {}}\n"


@pytest.mark.parametrize("subpath", ["../outside", "deploy/../../x", "/etc", ".."])
def test_a_subpath_escaping_the_repository_is_refused(
    upstream: Upstream, workdir: Path, subpath: str
) -> None:
    with pytest.raises(GitSyncError, match="must stay inside the repository") as caught:
        GitMirror(GitSource(url=upstream.url, subpath=subpath), workdir)
    assert not caught.value.temporary


def test_a_commit_turning_the_subpath_into_a_symlink_is_refused(
    upstream: Upstream, workdir: Path
) -> None:
    upstream.commit("prod", {"deploy/stack.yaml": "apps: {}\n"})
    mirror = GitMirror(GitSource(url=upstream.url, subpath="deploy"), workdir)
    good = mirror.sync()
    git(upstream.work, "rm", "-r", "--quiet", "deploy")
    os.symlink("/etc", upstream.work / "deploy")
    git(upstream.work, "add", "deploy")
    git(upstream.work, "commit", "--quiet", "-m", "escape")
    git(upstream.work, "push", "--quiet", "origin", "main")

    with pytest.raises(GitSyncError, match="path 'deploy' is not a directory"):
        mirror.sync()

    assert mirror.current() == good
    assert not (workdir / "deploy").is_symlink()


def test_a_missing_subpath_is_refused_and_keeps_the_checkout(
    upstream: Upstream, workdir: Path
) -> None:
    upstream.commit("prod", {"deploy/stack.yaml": "apps: {}\n"})
    mirror = GitMirror(GitSource(url=upstream.url, subpath="deploy"), workdir)
    good = mirror.sync()
    upstream.commit("drop deploy", {"deploy": None})

    with pytest.raises(GitSyncError, match="path 'deploy' does not exist at"):
        mirror.sync()

    assert mirror.current() == good
    assert (workdir / "deploy" / "stack.yaml").exists()


# --- checkout (rollback pinning) --------------------------------------------------------------


def test_checkout_of_an_older_commit(mirror: GitMirror, upstream: Upstream, workdir: Path) -> None:
    first = mirror.sync()
    upstream.commit("second", {"stack.yaml": "apps: {b: {}}\n"})
    assert mirror.sync().subject == "second"

    pinned = mirror.checkout(first.sha)

    assert pinned == first
    assert mirror.current() == first
    assert (workdir / "stack.yaml").read_text() == "apps: {}\n"
    assert_clean_at(workdir, first.sha)
    assert mirror.checkout(first.sha[:10]) == first  # an abbreviated sha resolves too


def test_checkout_of_a_commit_lost_to_a_force_push_still_works(
    mirror: GitMirror, upstream: Upstream
) -> None:
    old = upstream.commit("doomed", {"doomed.yaml": "d: 1\n"})
    mirror.sync()
    git(upstream.work, "reset", "--quiet", "--hard", "HEAD~1")
    upstream.commit("replacement", {"new.yaml": "n: 1\n"}, push=False)
    git(upstream.work, "push", "--quiet", "--force", "origin", "main")
    mirror.sync()

    assert mirror.checkout(old).subject == "doomed"


@pytest.mark.parametrize("sha", ["0" * 40, "deadbeef", "not-a-sha", "--help", "HEAD~1", ""])
def test_checkout_of_an_unknown_sha_raises_and_keeps_the_checkout(
    mirror: GitMirror, workdir: Path, sha: str
) -> None:
    good = mirror.sync()

    with pytest.raises(GitSyncError) as caught:
        mirror.checkout(sha)

    assert not caught.value.temporary
    assert mirror.current() == good
    assert_clean_at(workdir, good.sha)


def test_checkout_before_any_sync_raises(mirror: GitMirror) -> None:
    with pytest.raises(GitSyncError, match="nothing has been fetched"):
        mirror.checkout("0" * 40)


# --- credentials never leak -------------------------------------------------------------------


def error_text(error: BaseException) -> str:
    """Everything a traceback or a log line of `error` could show, causes included."""
    return "".join(traceback.format_exception(error)) + repr(error) + str(error)


def test_the_token_is_not_written_to_the_mirror(
    mirror: GitMirror, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_GIT_TOKEN", CANARY)
    mirror.sync()
    assert all(CANARY.encode() not in content for content in all_text_under(workdir / ".git"))


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:9/repo.git",
        f"https://x-access-token:{CANARY}@127.0.0.1:9/repo.git",
        f"https://{CANARY}@127.0.0.1:9/repo.git",
    ],
)
def test_the_token_is_in_no_error_config_or_repr(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("RECONCILER_GIT_TOKEN", CANARY)
    source = GitSource(url=url)
    mirror = GitMirror(source, workdir)

    with pytest.raises(
        GitSyncError, match=r"^cannot reach https://127\.0\.0\.1:9/repo\.git: "
    ) as e:
        mirror.sync()

    assert CANARY not in error_text(e.value)
    assert CANARY not in repr(source) + repr(mirror)
    config = (workdir / ".git" / "config").read_text()
    assert "url = https://127.0.0.1:9/repo.git\n" in config
    assert all(CANARY.encode() not in content for content in all_text_under(workdir / ".git"))


def test_redact_scrubs_secrets_and_url_user_info() -> None:
    text = f"fatal: unable to access 'https://bob:{CANARY}@h/r.git/': {CANARY} rejected"
    assert redact(text, CANARY) == "fatal: unable to access 'https://***@h/r.git/': *** rejected"


# --- remotes and ssh --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "transport", "stored", "username", "password"),
    [
        ("https://h/r.git", Transport.HTTP, "https://h/r.git", None, None),
        ("https://u:p%40ss@h:8443/r.git", Transport.HTTP, "https://h:8443/r.git", "u", "p@ss"),
        ("ssh://git:pw@h:22/r.git", Transport.SSH, "ssh://git@h:22/r.git", "git", "pw"),
        ("git@github.com:org/r.git", Transport.SSH, "git@github.com:org/r.git", None, None),
        ("file:///srv/r.git", Transport.PLAIN, "file:///srv/r.git", None, None),
    ],
)
def test_parse_remote_keeps_secrets_out_of_the_stored_url(
    url: str, transport: Transport, stored: str, username: str | None, password: str | None
) -> None:
    remote = parse_remote(url)
    assert (remote.transport, remote.url, remote.username, remote.password) == (
        transport,
        stored,
        username,
        password,
    )


def test_a_local_path_is_made_absolute(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_remote("repos/r.git").url == str(tmp_path / "repos" / "r.git")


def test_ssh_command_uses_the_key_and_never_prompts() -> None:
    command = ssh_command(Path("/keys/deploy key"))
    assert command == (
        "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new "
        "-i '/keys/deploy key' -o IdentitiesOnly=yes"
    )


def test_an_unreachable_ssh_remote(workdir: Path, tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("not really a key\n")
    key.chmod(0o600)
    mirror = GitMirror(GitSource(url="ssh://git@127.0.0.1:9/r.git", ssh_key=key), workdir)
    with pytest.raises(GitSyncError, match=r"^cannot reach ssh://git@127\.0\.0\.1:9/r\.git: "):
        mirror.sync()


def test_a_missing_ssh_key_is_reported(workdir: Path, tmp_path: Path) -> None:
    key = tmp_path / "absent"
    mirror = GitMirror(GitSource(url="ssh://git@127.0.0.1:9/r.git", ssh_key=key), workdir)
    with pytest.raises(GitSyncError, match=f"ssh key file {key} does not exist"):
        mirror.sync()


def test_revision_time_keeps_the_committer_offset(
    mirror: GitMirror, upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2024-05-06T07:08:09+02:00")
    upstream.commit("dated", {"stack.yaml": "apps: {d: {}}\n"})

    revision = mirror.sync()

    assert revision.committed_at == datetime(2024, 5, 6, 5, 8, 9, tzinfo=UTC)
    assert revision.committed_at.tzinfo == timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        (
            "git@h: Permission denied (publickey).\r\nfatal: Could not read from remote "
            "repository.\n\nPlease make sure you have the correct access rights\n"
            "and the repository exists.",
            "authentication failed for ssh://h/r.git: git@h: Permission denied (publickey).",
        ),
        (
            "fatal: unable to access 'https://h/r.git/': The requested URL returned error: 403",
            "authentication failed for ssh://h/r.git: unable to access 'https://h/r.git/': "
            "The requested URL returned error: 403",
        ),
        (
            "error: unable to create temporary file: Permission denied\nfatal: failed to write",
            "cannot reach ssh://h/r.git: unable to create temporary file: Permission denied; "
            "failed to write",
        ),
        (
            "Host key verification failed.",
            "cannot reach ssh://h/r.git: Host key verification failed.",
        ),
    ],
)
def test_fetch_failures_are_classified_from_gits_stderr(stderr: str, expected: str) -> None:
    error = GitCommandError(["git", "fetch"], 128, stderr.encode())
    assert str(fetch_failure(error, url="ssh://h/r.git", branch="main", secrets=())) == expected
