"""Where docker SDK errors become reconciler errors: around each call, and inside the streams
(events, logs) whose reads outlive the call that opened them.

Together with docker_adapter.py (which uses these for every SDK call), the only place docker
errors are translated."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from reconciler.observed.normalize import event_from_message
from reconciler.observed.port import EngineEvent
from reconciler.state.errors import DockerApiError, DockerUnavailable

START_HINT = "start one with `dockerd &` (or `systemctl start docker`), or set DOCKER_HOST"
NANOS = 1_000_000_000


def engine_url() -> str:
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


@contextmanager
def translated(what: str) -> Iterator[None]:
    # The SDK is imported only when something is about to change (see EngineReader).
    import docker.errors
    import requests.exceptions

    try:
        yield
    except docker.errors.APIError as e:
        status = e.response.status_code if e.response is not None else None
        message = str(e.explanation or e)
        temporary = status is not None and status >= 500 and "No such" not in message
        raise DockerApiError(f"{what}: {message}", status=status, temporary=temporary) from e
    except (requests.exceptions.ConnectionError, docker.errors.DockerException) as e:
        raise DockerUnavailable(f"no Docker engine answers at {engine_url()}; {START_HINT}") from e


def event_time(nanos: int) -> str:
    # The engine reads "seconds.nanoseconds"; a float would round away the nanoseconds.
    return f"{nanos // NANOS}.{nanos % NANOS:09d}"


class PastEvents:
    def __init__(self, events: list[EngineEvent]) -> None:
        self._events = events

    def __iter__(self) -> Iterator[EngineEvent]:
        return iter(self._events)

    def close(self) -> None:
        pass


class LiveEvents:
    """Events from the SDK's stream; a broken or ended stream raises DockerUnavailable."""

    def __init__(self, raw: Any, finite: bool) -> None:
        self._raw = raw
        self._finite = finite
        self._closed = False

    def __iter__(self) -> Iterator[EngineEvent]:
        import requests.exceptions

        what = "following events"
        try:
            with translated(what):
                for message in self._raw:
                    yield event_from_message(message)
        except Exception as e:
            if self._closed:  # closed from another thread under the read: whatever it raised
                return
            expected = (DockerUnavailable, DockerApiError, requests.exceptions.RequestException)
            if not isinstance(e, (*expected, OSError)):
                raise
            raise DockerUnavailable(f"{what}: the engine's event stream broke ({e})") from e
        if not (self._finite or self._closed):
            raise DockerUnavailable(f"{what}: the engine ended the event stream")

    def close(self) -> None:
        self._closed = True
        try:
            self._raw.close()
        except Exception:  # already closed from the reading side: nothing left to do
            return


class LogStream:
    """A log stream whose read errors are translated and which `close()` ends from any thread."""

    def __init__(self, raw: Any, what: str) -> None:
        self._raw = raw
        self._what = what
        self._closed = False

    def __iter__(self) -> LogStream:
        return self

    def __next__(self) -> bytes:
        try:
            with translated(self._what):
                chunk = next(self._raw, None)
        except (DockerApiError, DockerUnavailable, OSError) as e:
            if self._closed:  # the reader hung up and we closed the socket under the read
                raise StopIteration from None
            if isinstance(e, OSError):
                raise DockerApiError(f"{self._what}: {e}", temporary=True) from e
            raise
        except Exception:
            if self._closed:
                raise StopIteration from None
            raise
        if chunk is None:
            raise StopIteration
        return bytes(chunk)

    def close(self) -> None:
        self._closed = True
        close = getattr(self._raw, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # already closed from the reading side: nothing left to do
                return
