"""GitMirror over real https with a token: a loopback TLS server in front of git http-backend.

Proves the token reaches the server (as Basic auth for x-access-token) while never touching
the disk, the remote URL, a credential helper or an error message.
"""

from __future__ import annotations

import base64
import shutil
import ssl
import subprocess
import tempfile
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from reconciler.gitsync.repo import GitMirror, GitSource
from reconciler.state.errors import GitSyncError

CANARY = "canary-XYZ"

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=30
    ).stdout.strip()


@dataclass
class Server:
    """What the https server accepts and what it saw."""

    root: Path
    token: str = CANARY
    seen_credentials: list[str] = field(default_factory=list)
    port: int = 0

    def url(self, userinfo: str = "") -> str:
        return f"https://{userinfo}127.0.0.1:{self.port}/repo.git"


def make_handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.serve()

        def do_POST(self) -> None:
            self.serve()

        def serve(self) -> None:
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                server.seen_credentials.append(base64.b64decode(auth[6:]).decode())
            if server.seen_credentials[-1:] != [f"x-access-token:{server.token}"]:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.run_http_backend()

        def run_http_backend(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            url = urlsplit(self.path)
            env = {
                "GIT_PROJECT_ROOT": str(server.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "PATH_INFO": url.path,
                "QUERY_STRING": url.query,
                "REQUEST_METHOD": self.command,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                "HTTP_GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            }
            out = subprocess.run(
                ["git", "http-backend"], input=body, env=env, capture_output=True, timeout=30
            ).stdout
            head, _, payload = out.partition(b"\r\n\r\n")
            headers = [line.split(":", 1) for line in head.decode().split("\r\n") if line]
            status = next((int(v.split()[0]) for k, v in headers if k == "Status"), 200)
            self.send_response(status)
            for key, value in headers:
                if key != "Status":
                    self.send_header(key, value.strip())
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(autouse=True)
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Own git config (with a credential store that must stay empty) and a private tempdir."""
    store = tmp_path / "credentials"
    config = tmp_path / "gitconfig"
    config.write_text(f"[credential]\n\thelper = store --file={store}\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Alice Example")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "alice@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Alice Example")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "alice@example.com")
    monkeypatch.delenv("RECONCILER_GIT_TOKEN", raising=False)
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    return store


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    root = tmp_path / "served"
    root.mkdir()
    git(root, "init", "--quiet", "--bare", "--initial-branch=main", "repo.git")
    work = tmp_path / "author"
    git(tmp_path, "clone", "--quiet", str(root / "repo.git"), str(work))
    git(work, "checkout", "--quiet", "-B", "main")
    (work / "stack.yaml").write_text("apps: {}\n")
    git(work, "add", "stack.yaml")
    git(work, "commit", "--quiet", "-m", "add stack")
    git(work, "push", "--quiet", "origin", "main")

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    # An EC key: generating it is instant, unlike RSA.
    newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    openssl = ["openssl", "req", "-x509", *newkey, *subject, "-days", "1"]
    subprocess.run(
        [*openssl, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    monkeypatch.setenv("GIT_SSL_CAINFO", str(cert))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    state = Server(root)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def no_canary_under(root: Path) -> bool:
    return all(CANARY.encode() not in p.read_bytes() for p in root.rglob("*") if p.is_file())


def error_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)) + repr(error) + str(error)


def test_the_env_token_authenticates_and_is_stored_nowhere(
    server: Server, tmp_path: Path, isolated_git: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILER_GIT_TOKEN", CANARY)
    workdir = tmp_path / "state" / "repo"

    revision = GitMirror(GitSource(url=server.url()), workdir).sync()

    assert revision.subject == "add stack"
    assert (workdir / "stack.yaml").read_text() == "apps: {}\n"
    assert f"x-access-token:{CANARY}" in server.seen_credentials
    assert f"url = {server.url()}\n" in (workdir / ".git" / "config").read_text()
    assert no_canary_under(workdir / ".git")
    assert not isolated_git.exists(), "the credential helper must not have stored the token"
    assert list((tmp_path / "tmp").iterdir()) == [], "the askpass helper must be removed"


def test_credentials_in_the_url_authenticate_and_are_not_stored(
    server: Server, tmp_path: Path, isolated_git: Path
) -> None:
    workdir = tmp_path / "state" / "repo"

    GitMirror(GitSource(url=server.url(f"x-access-token:{CANARY}@")), workdir).sync()

    assert f"url = {server.url()}\n" in (workdir / ".git" / "config").read_text()
    assert no_canary_under(workdir / ".git")
    assert not isolated_git.exists()


def test_a_wrong_token_is_an_authentication_failure_without_the_token(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.token = "the-right-one"
    monkeypatch.setenv("RECONCILER_GIT_TOKEN", CANARY)
    workdir = tmp_path / "state" / "repo"

    with pytest.raises(GitSyncError) as caught:
        GitMirror(GitSource(url=server.url()), workdir).sync()

    assert str(caught.value).startswith(f"authentication failed for {server.url()}: ")
    assert f"x-access-token:{CANARY}" in server.seen_credentials
    assert CANARY not in error_text(caught.value)
    assert no_canary_under(workdir / ".git")


def test_no_token_fails_fast_instead_of_prompting(server: Server, tmp_path: Path) -> None:
    workdir = tmp_path / "state" / "repo"
    with pytest.raises(GitSyncError) as caught:
        GitMirror(GitSource(url=server.url()), workdir).sync()
    assert str(caught.value) == (
        f"authentication failed for {server.url()}: "
        "no token given ($RECONCILER_GIT_TOKEN is not set)"
    )


def test_the_token_is_read_at_fetch_time(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = GitMirror(GitSource(url=server.url(), token_env="MY_TOKEN"), tmp_path / "repo")
    monkeypatch.setenv("MY_TOKEN", "expired")
    with pytest.raises(GitSyncError, match="authentication failed"):
        mirror.sync()

    monkeypatch.setenv("MY_TOKEN", CANARY)

    assert mirror.sync().subject == "add stack"
