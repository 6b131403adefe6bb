"""Frozen value types for desired and live objects: the same shape on both sides of a diff."""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field


class Kind(enum.StrEnum):
    APP = "app"
    ADDON = "addon"
    NETWORK = "network"
    VOLUME = "volume"


class UpdateStrategy(enum.StrEnum):
    ROLLING = "rolling"
    RECREATE = "recreate"


class PullPolicy(enum.StrEnum):
    MISSING = "missing"
    ALWAYS = "always"


@dataclass(frozen=True)
class HealthSpec:
    """A Docker healthcheck: the test command and its timing, in seconds."""

    test: tuple[str, ...]
    interval: float
    timeout: float
    retries: int
    start_period: float = 0.0


@dataclass(frozen=True)
class PortBinding:
    host_ip: str
    host_port: int | None
    container_port: int
    protocol: str = "tcp"

    def render(self) -> str:
        host = f"{self.host_ip}:{self.host_port}" if self.host_port else self.host_ip
        return f"{host}:{self.container_port}/{self.protocol}"


@dataclass(frozen=True)
class VolumeMount:
    volume: str  # the Docker volume's full name
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class FileMount:
    """A repository file mounted read-only; `source` is a content-addressed copy of `origin`."""

    target: str
    origin: str  # absolute path of the file in the checkout
    source: str  # absolute path of the copy named by its digest (stable across checkouts)
    digest: str


@dataclass(frozen=True)
class ContainerSpec:
    """Everything that defines one container; its hash decides whether a live one is current."""

    stack: str
    kind: Kind
    owner: str  # the app or add-on this container belongs to
    replica: int
    image: str
    command: tuple[str, ...] | None
    env: tuple[tuple[str, str], ...]
    ports: tuple[PortBinding, ...]
    volumes: tuple[VolumeMount, ...]
    user_labels: tuple[tuple[str, str], ...]
    nano_cpus: int | None
    memory_bytes: int | None
    healthcheck: HealthSpec | None
    network: str
    alias: str
    pull: PullPolicy = PullPolicy.MISSING
    #: Env keys whose values are secrets: masked in labels, plans and logs.
    secret_env: frozenset[str] = frozenset()
    files: tuple[FileMount, ...] = ()
    #: Fixed for add-ons: some engines (RabbitMQ) key their data by host name.
    hostname: str | None = None

    @property
    def name(self) -> str:
        if self.kind is Kind.ADDON:
            return f"{self.stack}-{self.owner}"
        return f"{self.stack}-{self.owner}-{self.replica}"


@dataclass(frozen=True)
class Workload:
    """One app or add-on as a whole: its replicas and how to roll them."""

    kind: Kind
    name: str
    replicas: tuple[ContainerSpec, ...]
    spec_hash: str
    spec_doc: dict[str, object] = field(compare=False, hash=False)
    depends_on: tuple[str, ...] = ()
    update: UpdateStrategy = UpdateStrategy.ROLLING
    #: Add-ons: the declared disk budget in bytes (status and metrics report usage against it).
    disk_bytes: int | None = None
    #: Add-ons: what a major-version change does ("refuse" or "dumpRestore"); not hashed.
    upgrade: str = "refuse"
    #: The keyed digest of secret values that went into `spec_hash`, so a pure step can re-hash
    #: the spec after binding an add-on to its data volume (it reveals no secret).
    secret_digest: str = field(default="", repr=False)


@dataclass(frozen=True)
class DesiredStack:
    """The whole desired state of one stack, ready to plan against what is live."""

    stack: str
    revision: str
    network: str
    volumes: tuple[str, ...]
    workloads: tuple[Workload, ...]
    prune: bool = True
    self_heal: bool = True
    allow_mass_deletion: bool = False

    def workload(self, name: str) -> Workload | None:
        return next((w for w in self.workloads if w.name == name), None)


@dataclass(frozen=True)
class LiveContainer:
    """A managed container as one list call reports it."""

    id: str
    name: str
    kind: str
    owner: str
    replica: int
    state: str  # running | exited | created | restarting | paused | dead
    status: str  # Docker's human status, e.g. "Up 3 minutes (healthy)"
    image: str
    image_id: str
    spec_hash: str
    revision: str
    spec_doc: str  # the JSON spec label, parsed only when a diff is rendered
    replaces: str | None = None
    engine: str = ""
    version: str = ""
    deletion_policy: str = ""
    volumes: tuple[str, ...] = ()  # named volumes mounted, from the list payload's Mounts

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def health(self) -> str | None:
        for word in ("unhealthy", "healthy", "health: starting"):
            if f"({word})" in self.status:
                return word.removeprefix("health: ")
        return None


@dataclass(frozen=True)
class LiveNetwork:
    id: str
    name: str


@dataclass(frozen=True)
class LiveVolume:
    name: str


@dataclass(frozen=True)
class Observed:
    """Live state of one stack: what exists under our labels, plus local image ids by reference."""

    containers: tuple[LiveContainer, ...] = ()
    networks: tuple[LiveNetwork, ...] = ()
    volumes: tuple[LiveVolume, ...] = ()
    images: tuple[tuple[str, str], ...] = ()  # (reference, image id)

    @functools.cached_property
    def _image_index(self) -> dict[str, str]:
        return dict(self.images)

    def image_id(self, reference: str) -> str | None:
        return self._image_index.get(canonical_reference(reference))


def canonical_reference(reference: str) -> str:
    """A reference as Docker lists it in RepoTags/RepoDigests: 'busybox' → 'busybox:latest',
    'docker.io/library/busybox:1' → 'busybox:1'; other tags and digests stay as written."""
    for hub in ("docker.io/", "index.docker.io/"):
        reference = reference.removeprefix(hub)
    if reference.startswith("library/") and reference.count("/") == 1:
        reference = reference.removeprefix("library/")
    if "@" in reference:
        return reference
    last = reference.rsplit("/", 1)[-1]
    return reference if ":" in last else f"{reference}:latest"
