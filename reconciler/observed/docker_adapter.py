"""DockerPort over the docker SDK's low-level client.

With sdk_errors.py, the only place docker errors are translated into reconciler errors."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from reconciler.observed.engine_http import EngineReader
from reconciler.observed.normalize import (
    container_from_summary,
    event_from_message,
    image_references,
    network_from_summary,
    volume_from_summary,
)
from reconciler.observed.port import (
    WATCHED_EVENTS,
    ContainerState,
    EventStream,
    ExecResult,
    OneOffSpec,
)
from reconciler.observed.sdk_errors import (
    NANOS,
    START_HINT,
    LiveEvents,
    LogStream,
    PastEvents,
    engine_url,
    event_time,
    translated,
)
from reconciler.observed.streams import StreamBroken, Tail, demux, drain
from reconciler.state import labels
from reconciler.state.errors import DockerApiError, DockerUnavailable
from reconciler.state.model import ContainerSpec, LiveContainer, LiveNetwork, LiveVolume

#: Pinned so the client never spends a round trip negotiating; every engine since 20.10 speaks it.
API_VERSION = "1.41"
T = TypeVar("T")


class DockerSdkPort:
    """The real engine, reached the usual way (DOCKER_HOST, else the local socket)."""

    def __init__(self, timeout: int = 120) -> None:
        self._timeout = timeout
        self._client: Any = None
        url = engine_url()
        tls = bool(os.environ.get("DOCKER_TLS_VERIFY") or os.environ.get("DOCKER_CERT_PATH"))
        self._reader = (
            EngineReader(url, API_VERSION, START_HINT, timeout)
            if EngineReader.supports(url, tls)
            else None
        )

    @property
    def _api(self) -> Any:
        # Created on first use: a no-op pass only lists, and never pays for the SDK.
        if self._client is None:
            with translated("connecting to Docker"):
                import docker

                params = docker.utils.kwargs_from_env()
                self._client = docker.APIClient(
                    version=API_VERSION, timeout=self._timeout, **params
                )
        return self._client

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        with translated(what):
            return fn()

    def _list(
        self,
        what: str,
        path: str,
        stack: str | None,
        sdk: Callable[..., Any],
        ids: Sequence[str] = (),
    ) -> Any:
        filters = {"label": [f"{labels.STACK}={stack}"]} if stack else None
        if filters is not None and ids:
            filters["id"] = list(ids)
        if self._reader is not None:
            params = {"all": "1"} if path == "/containers/json" else {}
            return self._reader.get(path, filters, **params)
        return self._call(what, lambda: sdk(filters=filters))

    def ping(self) -> None:
        if self._reader is not None:
            self._reader.get("/version")
        else:
            self._call("ping", self._api.ping)

    def list_containers(self, stack: str) -> list[LiveContainer]:
        raw = self._list(
            "listing containers", "/containers/json", stack,
            lambda filters: self._api.containers(all=True, filters=filters),
        )  # fmt: skip
        return [container_from_summary(summary) for summary in raw]

    def list_containers_by_id(self, stack: str, ids: Sequence[str]) -> list[LiveContainer]:
        if not ids:
            return []
        raw = self._list(
            "listing containers", "/containers/json", stack,
            lambda filters: self._api.containers(all=True, filters=filters), ids,
        )  # fmt: skip
        return [container_from_summary(summary) for summary in raw]

    def events(self, since_nano: int, until_nano: int | None = None) -> EventStream:
        filters = {
            "type": sorted(WATCHED_EVENTS),
            "event": sorted(set().union(*WATCHED_EVENTS.values())),
        }
        since = event_time(since_nano)
        if until_nano is not None and self._reader is not None:
            # Past events only: the fast reader, which a pass's catch-up call uses.
            until = event_time(until_nano)
            raw = self._reader.get_lines("/events", filters, since=since, until=until)
            return PastEvents([event_from_message(message) for message in raw])

        def open_stream() -> Any:
            import docker

            # Its own client without a read timeout: a quiet stack sends nothing for hours.
            client = docker.APIClient(
                version=API_VERSION, timeout=None, **docker.utils.kwargs_from_env()
            )
            until = event_time(until_nano) if until_nano is not None else None
            return client.events(since=since, until=until, filters=filters, decode=True)

        return LiveEvents(self._call("following events", open_stream), until_nano is not None)

    def list_networks(self, stack: str) -> list[LiveNetwork]:
        raw = self._list("listing networks", "/networks", stack, self._api_networks)
        return [network_from_summary(summary) for summary in raw]

    def list_volumes(self, stack: str) -> list[LiveVolume]:
        raw = self._list("listing volumes", "/volumes", stack, self._api_volumes)
        return [volume_from_summary(summary) for summary in (raw or {}).get("Volumes") or []]

    def _api_networks(self, filters: Any) -> Any:
        return self._api.networks(filters=filters)

    def _api_volumes(self, filters: Any) -> Any:
        return self._api.volumes(filters=filters)

    def image_ids(self) -> dict[str, str]:
        if self._reader is not None:
            return image_references(self._reader.get("/images/json"))
        return image_references(self._call("listing images", self._api.images))

    def pull(self, reference: str) -> None:
        import docker.utils

        repository, tag = docker.utils.parse_repository_tag(reference)
        with translated(f"pulling {reference}"):
            for event in self._api.pull(repository, tag=tag or "latest", stream=True, decode=True):
                if "error" in event:
                    detail = event.get("errorDetail", {}).get("message") or event["error"]
                    raise DockerApiError(f"pulling {reference}: {detail}")

    def create_network(self, name: str, labels_: Mapping[str, str]) -> None:
        self._call(
            f"creating network {name}",
            lambda: self._api.create_network(name, driver="bridge", labels=dict(labels_)),
        )

    def remove_network(self, name: str) -> None:
        self._call(f"removing network {name}", lambda: self._api.remove_network(name))

    def create_volume(self, name: str, labels_: Mapping[str, str]) -> None:
        self._call(
            f"creating volume {name}", lambda: self._api.create_volume(name, labels=dict(labels_))
        )

    def remove_volume(self, name: str) -> None:
        self._call(f"removing volume {name}", lambda: self._api.remove_volume(name))

    def create_container(self, spec: ContainerSpec, name: str, labels_: Mapping[str, str]) -> str:
        kwargs = self._create_kwargs(spec, name, labels_)
        result = self._call(
            f"creating container {name}", lambda: self._api.create_container(**kwargs)
        )
        return str(result["Id"])

    def _create_kwargs(
        self, spec: ContainerSpec, name: str, labels_: Mapping[str, str]
    ) -> dict[str, Any]:
        bindings: dict[str, list[tuple[str, ...]]] = {}
        for port in spec.ports:
            host = (port.host_ip, str(port.host_port)) if port.host_port else (port.host_ip,)
            bindings.setdefault(f"{port.container_port}/{port.protocol}", []).append(host)
        from docker.types import Mount

        host_config = self._api.create_host_config(
            port_bindings=bindings or None,
            mounts=[
                *(
                    Mount(m.target, m.volume, type="volume", read_only=m.read_only)
                    for m in spec.volumes
                ),
                *(Mount(f.target, f.source, type="bind", read_only=True) for f in spec.files),
            ]
            or None,
            nano_cpus=spec.nano_cpus,
            mem_limit=spec.memory_bytes,
            restart_policy={"Name": "unless-stopped"},
            # tini as PID 1: signals reach the app, so stops take milliseconds, not the timeout.
            init=True,
        )
        endpoint = self._api.create_endpoint_config(aliases=[spec.alias])
        health = spec.healthcheck
        return {
            "image": spec.image,
            "command": list(spec.command) if spec.command is not None else None,
            "name": name,
            "hostname": spec.hostname,
            "environment": dict(spec.env),
            "labels": dict(labels_),
            "ports": [(p.container_port, p.protocol) for p in spec.ports] or None,
            "host_config": host_config,
            "networking_config": self._api.create_networking_config({spec.network: endpoint}),
            "healthcheck": {
                "test": list(health.test),
                "interval": int(health.interval * NANOS),
                "timeout": int(health.timeout * NANOS),
                "retries": health.retries,
                "start_period": int(health.start_period * NANOS),
            }
            if health
            else None,
        }

    def start(self, name: str) -> None:
        self._call(f"starting {name}", lambda: self._api.start(name))

    def stop(self, name: str, timeout: int) -> None:
        self._call(f"stopping {name}", lambda: self._api.stop(name, timeout=timeout))

    def remove(self, name: str) -> None:
        self._call(f"removing {name}", lambda: self._api.remove_container(name, force=True))

    def rename(self, name: str, new_name: str) -> None:
        self._call(f"renaming {name} to {new_name}", lambda: self._api.rename(name, new_name))

    def container_state(self, name: str) -> ContainerState:
        info = self._call(f"inspecting {name}", lambda: self._api.inspect_container(name))
        state = info.get("State") or {}
        health = state.get("Health") or {}
        probes = health.get("Log") or []
        return ContainerState(
            status=str(state.get("Status", "")),
            health=health.get("Status"),
            exit_code=int(state.get("ExitCode") or 0),
            error=str(state.get("Error") or ""),
            oom_killed=bool(state.get("OOMKilled")),
            last_probe_output=str(probes[-1].get("Output", "")).strip() if probes else "",
        )

    def logs_tail(self, name: str, lines: int) -> str:
        raw = self._call(f"reading logs of {name}", lambda: self._api.logs(name, tail=lines))
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)

    def stream_logs(
        self, name: str, since: float | None, tail: int | None, follow: bool
    ) -> Iterator[bytes]:
        kwargs: dict[str, Any] = {
            "stream": True,
            "follow": follow,
            "timestamps": True,
            "tail": "all" if tail is None else max(tail, 0),
        }
        if since is not None and since > 0:
            kwargs["since"] = float(since)
        what = f"reading logs of {name}"
        raw = self._call(what, lambda: self._api.logs(name, **kwargs))
        return LogStream(raw, what)

    def stats(self, name: str) -> dict[str, Any]:
        # stream=False waits for a second sample, so the CPU delta is meaningful.
        result = self._call(f"reading stats of {name}", lambda: self._api.stats(name, stream=False))
        return dict(result or {})

    def restart(self, name: str, timeout: int) -> None:
        self._call(f"restarting {name}", lambda: self._api.restart(name, timeout=timeout))

    def volume_sizes(self) -> dict[str, int]:
        usage = self._call("reading disk usage", self._api.df) or {}
        sizes: dict[str, int] = {}
        for volume in usage.get("Volumes") or []:
            size = (volume.get("UsageData") or {}).get("Size", -1)
            if isinstance(size, int) and size >= 0:  # -1: the engine did not measure it
                sizes[str(volume.get("Name"))] = size
        return sizes

    # --- backups and tasks ---

    def exec_stream(
        self, container: str, command: Sequence[str], sink: Callable[[bytes], None]
    ) -> ExecResult:
        what = f"running a command in {container}"
        exec_id, sock = self._exec_socket(what, container, command, stdin=False)
        tail = Tail()
        try:
            demux(sock, {1: sink, 2: tail.add})
        except StreamBroken as e:
            raise DockerApiError(f"{what}: the output stream broke: {e.__cause__}") from e
        finally:
            sock.close()
        return ExecResult(self._exec_exit_code(what, exec_id), tail.text())

    def exec_stdin(
        self, container: str, command: Sequence[str], source: Iterable[bytes]
    ) -> ExecResult:
        what = f"running a command in {container}"
        exec_id, sock = self._exec_socket(what, container, command, stdin=True)
        tail = Tail()
        # Output is drained on its own thread: a command that writes while we still feed it
        # would otherwise block on a full pipe while we block on its full stdin.
        reader = threading.Thread(target=drain, args=(sock, {1: tail.add, 2: tail.add}))
        reader.daemon = True
        reader.start()
        try:
            for chunk in source:
                sock.sendall(chunk)
            sock.shutdown(socket.SHUT_WR)  # EOF on the command's stdin
        except (BrokenPipeError, ConnectionResetError):
            pass  # the command exited early; its exit code and output say why
        finally:
            reader.join()
            sock.close()
        return ExecResult(self._exec_exit_code(what, exec_id), tail.text())

    def _exec_socket(
        self, what: str, container: str, command: Sequence[str], *, stdin: bool
    ) -> tuple[str, socket.socket]:
        def start() -> tuple[str, Any]:
            created = self._api.exec_create(
                container, list(command), stdout=True, stderr=True, stdin=stdin
            )
            return str(created["Id"]), self._api.exec_start(created["Id"], socket=True)

        exec_id, wrapped = self._call(what, start)
        raw: socket.socket = getattr(wrapped, "_sock", wrapped)
        raw.settimeout(None)  # a restore may stay silent for minutes while it builds indexes
        return exec_id, raw

    def _exec_exit_code(self, what: str, exec_id: str) -> int:
        # The stream ends a moment before the engine records the exit code.
        deadline = time.monotonic() + 30
        while True:
            info = self._call(what, lambda: self._api.exec_inspect(exec_id))
            if not info.get("Running") or time.monotonic() > deadline:
                code = info.get("ExitCode")
                return int(code) if code is not None else -1
            time.sleep(0.05)

    def run_one_off(self, spec: OneOffSpec, name: str, labels_: Mapping[str, str]) -> None:
        from docker.types import Mount

        def create() -> None:
            host_config = self._api.create_host_config(
                mounts=[Mount(m.target, m.volume, type="volume", read_only=m.read_only)
                        for m in spec.volumes] or None,
                network_mode=spec.network or "none",
                init=True,
            )  # fmt: skip
            health = spec.healthcheck
            self._api.create_container(
                image=spec.image,
                command=list(spec.command) if spec.command is not None else None,
                name=name,
                environment=dict(spec.env),
                labels=dict(labels_),
                host_config=host_config,
                healthcheck={
                    "test": list(health.test),
                    "interval": int(health.interval * NANOS),
                    "timeout": int(health.timeout * NANOS),
                    "retries": health.retries,
                    "start_period": int(health.start_period * NANOS),
                }
                if health
                else None,
            )
            self._api.start(name)

        self._call(f"running {name}", create)

    def wait(self, name: str, timeout: float) -> int | None:
        import requests.exceptions

        try:
            result = self._call(
                f"waiting for {name}", lambda: self._api.wait(name, timeout=timeout)
            )
        except requests.exceptions.ReadTimeout:
            return None
        except DockerUnavailable as e:
            if "timed out" in str(e.__cause__):  # urllib3 wraps some read timeouts
                return None
            raise
        return int(result.get("StatusCode", -1))
