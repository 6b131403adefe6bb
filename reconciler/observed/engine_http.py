"""A minimal read-only HTTP client for the engine's API over its unix socket or plain TCP.

Observing runs on every pass and every CLI call, so it skips the docker SDK (and requests):
importing them costs more than the list calls themselves. Writes still go through the SDK.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from typing import Any
from urllib.parse import quote, urlparse

from reconciler.state.errors import DockerApiError, DockerUnavailable


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class EngineReader:
    """GETs JSON from the engine; one persistent connection, reused across calls."""

    def __init__(
        self, url: str, api_version: str, unavailable_hint: str, timeout: float = 60
    ) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("unix", "tcp", "http"):
            raise ValueError(f"unsupported engine URL for the reader: {url}")
        self._parsed = parsed
        self._timeout = timeout
        self._url = url
        self._prefix = f"/v{api_version}"
        self._hint = unavailable_hint
        # http.client connections are not thread-safe; the daemon observes from several threads.
        self._local = threading.local()

    @property
    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            parsed = self._parsed
            if parsed.scheme == "unix":
                connection = _UnixConnection(parsed.path, self._timeout)
            else:
                host, port = parsed.hostname or "localhost", parsed.port or 2375
                connection = http.client.HTTPConnection(host, port, timeout=self._timeout)
            self._local.connection = connection
        return connection

    @staticmethod
    def supports(url: str, tls: bool) -> bool:
        return not tls and urlparse(url).scheme in ("unix", "tcp", "http")

    def get(self, path: str, filters: dict[str, list[str]] | None = None, **params: str) -> Any:
        body = self._get(path, filters, params)
        return json.loads(body) if body else None

    def get_lines(
        self, path: str, filters: dict[str, list[str]] | None = None, **params: str
    ) -> list[Any]:
        """A finite stream of JSON documents, one per line (e.g. past events)."""
        body = self._get(path, filters, params)
        return [json.loads(line) for line in body.splitlines() if line.strip()]

    def _get(
        self, path: str, filters: dict[str, list[str]] | None, params: dict[str, str]
    ) -> bytes:
        query = dict(params)
        if filters:
            query["filters"] = json.dumps(filters)
        qs = "&".join(f"{key}={quote(value)}" for key, value in query.items())
        target = f"{self._prefix}{path}" + (f"?{qs}" if qs else "")
        for attempt in (1, 2):  # a kept-alive connection the engine closed gets one retry
            try:
                self._connection.request("GET", target)
                response = self._connection.getresponse()
                body = response.read()
                break
            except (ConnectionRefusedError, FileNotFoundError, PermissionError) as e:
                raise DockerUnavailable(
                    f"no Docker engine answers at {self._url}; {self._hint}"
                ) from e
            except (http.client.HTTPException, OSError) as e:
                self._connection.close()
                if attempt == 2:
                    message = f"no Docker engine answers at {self._url} ({e}); {self._hint}"
                    raise DockerUnavailable(message) from e
        if response.status >= 400:
            try:
                message = json.loads(body).get("message", "")
            except ValueError:
                message = body.decode("utf-8", "replace")
            raise DockerApiError(
                f"GET {path}: {message}", status=response.status, temporary=response.status >= 500
            )
        return body
