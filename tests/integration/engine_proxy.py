"""A unix socket in front of the Docker engine that forwards bytes both ways.

Tests point DOCKER_HOST at it to watch what the reconciler asks the engine (subclasses look at
each chunk in `inspect`) or to break connections on purpose.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from urllib.parse import urlparse


class EngineProxy:
    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._upstream = urlparse(os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"))
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(path)
        self._server.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _connect_upstream(self) -> socket.socket:
        if self._upstream.scheme == "unix":
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self._upstream.path)
            return upstream
        return socket.create_connection((self._upstream.hostname, self._upstream.port or 2375))

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # closed
            upstream = self._connect_upstream()
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, request: bool) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                if request:
                    self.inspect(chunk, source, target)
                target.sendall(chunk)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def inspect(self, chunk: bytes, client: socket.socket, upstream: socket.socket) -> None:
        """Called with every chunk a client sends, before it is forwarded."""

    def close(self) -> None:
        self._server.close()
