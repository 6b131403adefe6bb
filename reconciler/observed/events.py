"""Follow the engine's event stream for one stack's containers (drift detection)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.state import labels

#: Container events that can leave a managed container other than declared.
DRIFT_ACTIONS = frozenset({"die", "stop", "kill", "destroy", "oom", "pause", "rename", "update"})


@dataclass(frozen=True)
class ContainerEvent:
    action: str
    container: str
    owner: str
    kind: str


def follow_events(
    stack: str,
    on_event: Callable[[ContainerEvent], None],
    stop: threading.Event,
    since: float | None = None,
) -> None:
    """Block, calling `on_event` for drift-relevant events, until `stop` is set.

    Starts from `since` (so nothing between start-up and connecting is missed) and resumes from
    the last event seen after the engine restarts; returns only when asked to stop.
    """
    last_seen = since if since is not None else time.time()
    import docker
    import docker.errors
    import requests.exceptions

    while not stop.is_set():
        try:
            client = docker.APIClient(
                version="1.41", timeout=None, **docker.utils.kwargs_from_env()
            )
            filters = {"type": ["container"], "label": [f"{labels.STACK}={stack}"]}
            stream = client.events(since=int(last_seen), filters=filters, decode=True)
            stopper = threading.Thread(target=_close_on_stop, args=(stop, stream), daemon=True)
            stopper.start()
            for event in stream:
                last_seen = max(last_seen, float(event.get("time") or last_seen))
                _dispatch(event, on_event)
                if stop.is_set():
                    break
        except (docker.errors.DockerException, requests.exceptions.RequestException, OSError):
            stop.wait(2.0)  # the engine is restarting or unreachable: retry shortly


def _close_on_stop(stop: threading.Event, stream: object) -> None:
    stop.wait()
    close = getattr(stream, "close", None)
    if callable(close):
        # The stream may already be closed from the reading side.
        with contextlib.suppress(Exception):
            close()


def _dispatch(event: dict[str, object], on_event: Callable[[ContainerEvent], None]) -> None:
    action = str(event.get("Action") or event.get("status") or "").split(":")[0]
    if action not in DRIFT_ACTIONS:
        return
    actor = event.get("Actor")
    attributes = actor.get("Attributes", {}) if isinstance(actor, dict) else {}
    if not isinstance(attributes, dict) or attributes.get(labels.REPLACES):
        return  # our own replacement containers come and go during updates
    on_event(
        ContainerEvent(
            action=action,
            container=str(attributes.get("name", "")),
            owner=str(attributes.get(labels.NAME, "")),
            kind=str(attributes.get(labels.KIND, "")),
        )
    )
