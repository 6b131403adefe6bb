#!/usr/bin/env python3
"""Benchmark `reconciler apply` side by side with `docker-compose up -d` on the same services.

For each N in --apps it generates, in a temporary directory,
  * stack.yaml           N apps app-001..app-N (stack `benchN`)
  * docker-compose.yml   the same N services (project `benchNcompose`)
all running `reconciler-fixture/busybox:1` with a TERM trap and an init process, so
stops take milliseconds. It then measures, one tool at a time (only that tool's containers
exist while it is measured):

  1. cold converge   wall time of `reconciler apply` / `docker-compose up -d` from nothing
                     (given up after --cold-timeout s: the tool is killed and that is reported;
                     a killed reconciler apply is finished untimed so its no-op can be measured)
  2. no-op apply     whole-process wall time, median of --repeat runs after one warm-up run,
                     plus the CPU time (user+sys) of those processes, which other load on the
                     machine disturbs much less than wall time
  3. no-op pass      in-process observe + plan with DockerSdkPort, median of 20 after a warm-up,
                     plus the Docker API calls one pass makes (counting proxy around the port,
                     and the HTTP requests actually sent); compose's SDK calls for one no-op
                     `up -d` are counted from its --verbose log. Measured twice: observing
                     directly (as the CLI does), and through the daemon's observed-state cache
                     (reconciler/observed/cache.py) kept warm by the engine's event stream

and tears everything down at the end (also on failure, Ctrl-C or SIGTERM). The table compares
against the targets of issue 2; the figures go to bench/results/latest.json.

    python bench/compare_compose.py                        # 50 apps, 5 repeats (~2 min)
    python bench/compare_compose.py --apps 50 500          # 500 is heavy: ~20 min on 2 cores
    python bench/compare_compose.py --apps 50 --snapshot   # measure a copy of reconciler/
    python bench/compare_compose.py --report               # re-print the last results

reconciler runs with .pyc caching (as after a pip install) unless --bytecode inherit; the
caches live in a temp dir, never in the repository. Only the local Docker engine is used
(unix socket, or a DOCKER_HOST on 127.0.0.1).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

IMAGE = "reconciler-fixture/busybox:1"
COMMAND = ["sh", "-c", "trap 'exit 0' TERM; sleep 86400 & wait"]
BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results" / "latest.json"
INPROCESS_RUNS = 20
STACK_LABEL = "io.reconciler.stack"
COMPOSE_LABEL = "com.docker.compose.project"
#: Port methods that only read; any other call during a no-op pass is a mutation.
READ_ONLY = frozenset(
    {"ping", "list_containers", "list_networks", "list_volumes", "image_ids",
     "container_state", "logs_tail"}
)  # fmt: skip

# Targets from issue 2 ("Benchmark" paragraph).
TARGET_NOOP_SPEEDUP = 3.0  # no-op apply of 50 apps at least 3x faster than compose's no-op up -d
TARGET_NOOP_APPS = 50
TARGET_PASS_MS = 50.0  # in-process no-op pass of 500 apps under 50 ms
TARGET_PASS_APPS = 500


class BenchError(RuntimeError):
    pass


# --------------------------------------------------------------------------- generation


def stack_name(n: int) -> str:
    return f"bench{n}"


def project_name(n: int) -> str:
    return f"bench{n}compose"


def app_names(n: int) -> list[str]:
    return [f"app-{i:03d}" for i in range(1, n + 1)]


def write_stack(directory: Path, n: int) -> Path:
    """stack.yaml with N apps; JSON scalars are valid YAML, so quoting stays exact."""
    lines = ["version: 1", f"stack: {stack_name(n)}", "settings:", "  prune: true", "apps:"]
    for i, name in enumerate(app_names(n), start=1):
        lines += [
            f"  {name}:",
            f"    image: {json.dumps(IMAGE)}",
            f"    command: {json.dumps(COMMAND)}",
            f"    env: {{INDEX: {i}}}",
        ]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "stack.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_compose(directory: Path, n: int) -> Path:
    """The same services for docker-compose 1.29: image, command, env, init, one bridge network.

    `restart: unless-stopped` mirrors the restart policy reconciler gives every container.
    """
    lines = ['version: "2.4"', "services:"]
    for i, name in enumerate(app_names(n), start=1):
        lines += [
            f"  {name}:",
            f"    image: {json.dumps(IMAGE)}",
            f"    command: {json.dumps(COMMAND)}",
            f'    environment: {{INDEX: "{i}"}}',
            "    init: true",
            "    restart: unless-stopped",
            "    networks: [default]",
        ]
    lines += ["networks:", "  default:", "    driver: bridge"]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "docker-compose.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------------------- processes


@dataclass
class Run:
    seconds: float  # wall time
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    cpu_seconds: float = 0.0  # user + sys of the process and the children it waited for


#: Working directory of the tools: the benchmark's temp dir, so state they keep relative to the
#: current directory (reconciler's .reconciler/) never lands in the repository.
WORKDIR: Path | None = None


def run(
    cmd: Sequence[str], *, timeout: float, check: bool = True, env: dict[str, str] | None = None
) -> Run:
    """Run one command, wall-timed with perf_counter around the whole process."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            list(cmd), capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL, cwd=WORKDIR, env=env,
        )  # fmt: skip
    except subprocess.TimeoutExpired as e:
        elapsed = time.perf_counter() - started
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        return Run(elapsed, None, out, err, timed_out=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime)
    result = Run(elapsed, proc.returncode, proc.stdout, proc.stderr, cpu_seconds=cpu)
    if check and proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        raise BenchError(f"{' '.join(cmd)} exited {proc.returncode}:\n  " + "\n  ".join(tail))
    return result


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


LAUNCHER = "import sys\nfrom reconciler.cli.main import main\nsys.exit(main())\n"


@dataclass(frozen=True)
class Source:
    """Which reconciler code is measured, and how to start it."""

    cmd: list[str]
    env: dict[str, str] | None  # None: inherit
    description: str
    path: Path | None = None  # snapshot directory to put first on sys.path in-process


def git_revision() -> str:
    repo = str(BENCH_DIR.parent)
    try:
        commit = run(["git", "-C", repo, "rev-parse", "--short", "HEAD"], timeout=10).stdout
        status = ["git", "-C", repo, "status", "--porcelain", "--", "reconciler"]
        dirty = run(status, timeout=10).stdout.strip()
    except Exception:
        return "unknown"
    return commit.strip() + ("+dirty" if dirty else "")


def prepare_source(
    scratch: Path, *, snapshot: bool, bytecode: str = "cache", cmd: list[str] | None = None
) -> Source:
    """The installed (editable) working tree, or a snapshot (copy) of its reconciler/ package.

    A snapshot keeps a long run immune to edits others make in the working tree meanwhile.
    bytecode="cache": .pyc files are written and reused, under scratch/pycache (never into the
    repository), as for any pip-installed tool; this also overrides a PYTHONDONTWRITEBYTECODE=1
    in the environment. bytecode="inherit": the environment as it is.
    """
    env = dict(os.environ)
    if bytecode == "cache":
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
    note = "" if bytecode == "cache" else f", bytecode {bytecode}"
    if not snapshot:
        cmd = cmd or default_reconciler_cmd()
        return Source(cmd, env, f"working tree {git_revision()}{note} ({' '.join(cmd)})")
    # A copy of the working tree's package as it is now (HEAD alone may lack files not yet
    # committed), checked to start before anything is measured.
    src = scratch / "src"
    shutil.copytree(
        BENCH_DIR.parent / "reconciler", src / "reconciler",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )  # fmt: skip
    launcher = src / "reconciler_launcher.py"
    launcher.write_text(LAUNCHER)
    env["PYTHONPATH"] = str(src)
    cmd = [sys.executable, str(launcher)]
    check = run([*cmd, "--help"], timeout=60, check=False, env=env)
    if check.returncode != 0:
        raise BenchError(f"the snapshot of reconciler/ does not start:\n{check.stderr[-2000:]}")
    stamp = time.strftime("%H:%M:%S")
    description = f"snapshot of the working tree at {stamp}, {git_revision()}{note}"
    return Source(cmd, env, description, src)


def use_in_process(source: Source) -> None:
    """Import reconciler in this process from the measured source."""
    if source.path is not None:
        sys.path.insert(0, str(source.path))
    if "reconciler" in sys.modules:
        raise BenchError("reconciler was imported before choosing its source")


def default_reconciler_cmd() -> list[str]:
    # The console script next to this interpreter, not a pyenv shim (a shim adds ~0.1 s of bash).
    script = Path(sys.executable).parent / "reconciler"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "reconciler.cli.main"]


def check_local_docker() -> None:
    host = os.environ.get("DOCKER_HOST", "")
    if not host or host.startswith(("unix://", "npipe://")):
        return
    hostname = urlparse(host).hostname or ""
    if hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise BenchError(f"DOCKER_HOST={host} is not local; this benchmark only talks to 127.0.0.1")


# --------------------------------------------------------------------------- docker queries


def docker_client() -> Any:
    import docker

    return docker.APIClient(version="1.41", **docker.utils.kwargs_from_env())


def labelled_containers(api: Any, label: str, value: str, *, running: bool = False) -> list[Any]:
    filters: dict[str, Any] = {"label": [f"{label}={value}"]}
    if running:
        filters["status"] = "running"
    return list(api.containers(all=not running, filters=filters))


def force_clean(api: Any, label: str, value: str) -> int:
    """Last resort after a tool's own `down` left something behind: only objects with our label."""
    leftovers = labelled_containers(api, label, value)
    for c in leftovers:
        api.remove_container(c["Id"], force=True)
    for net in api.networks(filters={"label": [f"{label}={value}"]}):
        for attempt in range(20):
            try:
                api.remove_network(net["Id"])
                break
            except Exception as e:
                # Under load the engine may release endpoints of just-removed containers late;
                # dockerd 20.10 can also keep a stale endpoint count that only a restart clears.
                if "active endpoints" not in str(e):
                    raise
                if attempt == 19:
                    log(f"network {net['Name']} stays: {e} (a dockerd restart clears it)")
                    break
                time.sleep(1)
    return len(leftovers)


# --------------------------------------------------------------------------- in-process pass


class CountingPort:
    """Forwards every call to the real port and counts it by method name."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if not callable(target):
            return target

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return target(*args, **kwargs)

        return counted


class HttpCounter:
    """Counts the HTTP requests actually sent while installed (any client built on http.client:
    the SDK via urllib3, or a raw http.client reader), as "METHOD /path"."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._original: Any = None

    def __enter__(self) -> HttpCounter:
        import http.client

        original = http.client.HTTPConnection.putrequest
        counter = self

        def putrequest(conn: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            path = urlparse(url).path  # /v1.41/containers/json -> /containers/json
            if path.startswith("/v1"):
                path = "/" + path.split("/", 2)[2]
            counter.requests.append(f"{method} {path}")
            return original(conn, method, url, *args, **kwargs)

        self._original = original
        http.client.HTTPConnection.putrequest = putrequest  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *_: Any) -> None:
        import http.client

        http.client.HTTPConnection.putrequest = self._original  # type: ignore[method-assign]


def containers_payload_bytes(api: Any, stack: str) -> int:
    """Size of the one list response that grows with the stack (labels carry the spec JSON)."""
    filters = json.dumps({"label": [f"{STACK_LABEL}={stack}"]})
    response = api._get(api._url("/containers/json"), params={"all": 1, "filters": filters})
    response.raise_for_status()
    return len(response.content)


def inprocess_pass(stack_dir: Path, runs: int = INPROCESS_RUNS) -> dict[str, Any]:
    """Median time of observe + make_plan against the live engine; desired is built once."""
    from reconciler.observed.docker_adapter import DockerSdkPort
    from reconciler.observed.observe import observe
    from reconciler.plan.planner import make_plan

    port = DockerSdkPort()
    cwd = os.getcwd()
    os.chdir(stack_dir.parent)  # the engine keeps state relative to the working directory
    try:
        desired = build_desired_once(port, stack_dir)
    finally:
        os.chdir(cwd)
    stack = desired.stack

    counting = CountingPort(port)
    plan = make_plan(desired, observe(counting, stack))  # warm-up (connection, caches)
    counting.calls.clear()
    with HttpCounter() as http:
        plan = make_plan(desired, observe(counting, stack))
    calls = dict(counting.calls)
    if not plan.empty:
        raise BenchError(f"in-process pass for {stack} is not a no-op: {len(plan.actions)} actions")

    timing, observed = timed_passes(lambda: observe(port, stack), desired, runs, "pass")
    mutating = {name: n for name, n in calls.items() if name not in READ_ONLY}
    cached = cached_pass(port, desired, runs)
    return {
        "cached": cached,
        "reconciler_imported_from": str(Path(sys.modules["reconciler"].__file__ or "").parent),
        "runs": runs,
        **timing,
        "port_calls": calls,
        "port_calls_total": sum(calls.values()),
        "mutating_calls": sum(mutating.values()),
        "http_requests": http.requests,
        "containers_observed": len(observed.containers),
    }


def timed_passes(
    observe_once: Callable[[], Any], desired: Any, runs: int, what: str
) -> tuple[dict[str, float], Any]:
    """Time `runs` no-op passes (observe, then make_plan); medians in ms, and the last observed."""
    from reconciler.plan.planner import make_plan

    totals, observes, plans = [], [], []
    observed = None
    for _ in range(runs):
        t0 = time.perf_counter()
        observed = observe_once()
        t1 = time.perf_counter()
        plan = make_plan(desired, observed)
        t2 = time.perf_counter()
        totals.append(t2 - t0)
        observes.append(t1 - t0)
        plans.append(t2 - t1)
        if not plan.empty:
            raise BenchError(f"{what} for {desired.stack} stopped being a no-op")
    timing = {
        "median_ms": statistics.median(totals) * 1000,
        "min_ms": min(totals) * 1000,
        "max_ms": max(totals) * 1000,
        "observe_median_ms": statistics.median(observes) * 1000,
        "plan_median_ms": statistics.median(plans) * 1000,
    }
    return timing, observed


def cached_pass(port: Any, desired: Any, runs: int) -> dict[str, Any]:
    """The daemon's way: observe through an ObservedCache fed by the engine's event stream.

    The cache is primed once, then each timed read is its catch-up call (GET /events since the
    last read) plus whatever events changed, and make_plan; every read must come from the cache.
    """
    try:
        from reconciler.observed.cache import ObservedCache
        from reconciler.observed.follow import follow
    except ImportError:  # pragma: no cover - a reconciler without the cache
        return {}
    from reconciler.plan.planner import make_plan

    stack = desired.stack
    cache = ObservedCache(port, stack)
    stop = threading.Event()
    thread = threading.Thread(target=follow, args=(port, [cache], stop, time.time()), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not cache.following:
            if time.monotonic() > deadline:
                raise BenchError("the event stream did not connect")
            time.sleep(0.01)
        make_plan(desired, cache.observe(stack))  # primes
        with HttpCounter() as http:
            plan = make_plan(desired, cache.observe(stack))
        if cache.last_source != "cache" or not plan.empty:
            raise BenchError(f"cached pass: {cache.last_source}, {len(plan.actions)} actions")
        primes = cache.primes
        timing, observed = timed_passes(lambda: cache.observe(stack), desired, runs, "cached pass")
    finally:
        stop.set()
        thread.join(5)
    return {
        **timing,
        "primes_during_runs": cache.primes - primes,
        "http_requests": http.requests,
        "containers_observed": len(observed.containers),
    }


def build_desired_once(port: Any, stack_dir: Path) -> Any:
    try:
        from reconciler.engine import Engine

        return Engine(port).desired(stack_dir)
    except ImportError:  # pragma: no cover - engine layout changed
        from reconciler.desired.build import build_desired
        from reconciler.manifests.loader import load_stack

        return build_desired(load_stack(stack_dir).stack, "local")


# --------------------------------------------------------------------------- per-tool phases


@dataclass
class Tools:
    reconciler: list[str]
    compose: list[str]
    cold_timeout: float
    reconciler_env: dict[str, str] | None = None
    reconciler_source: str = ""
    noop_timeout: float = 300.0


@dataclass
class Ctx:
    n: int
    root: Path
    tools: Tools
    api: Any
    repeat: int
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def stack_dir(self) -> Path:
        return self.root / "stack"

    @property
    def compose_file(self) -> Path:
        return self.root / "compose" / "docker-compose.yml"

    def rec(self, *args: str) -> list[str]:
        return [*self.tools.reconciler, *args]

    def run(self, cmd: list[str], *, timeout: float, check: bool = True) -> Run:
        """Run a tool; reconciler commands get the environment of the measured source."""
        ours = cmd[: len(self.tools.reconciler)] == self.tools.reconciler
        return run(
            cmd, timeout=timeout, check=check, env=self.tools.reconciler_env if ours else None
        )

    def dc(self, *args: str) -> list[str]:
        return [
            *self.tools.compose,
            "-p",
            project_name(self.n),
            "-f",
            str(self.compose_file),
            *args,
        ]


def _down(ctx: Ctx, tool: str, cmd: list[str], label: str, value: str) -> float:
    r = ctx.run(cmd, timeout=ctx.tools.cold_timeout, check=False)
    left = force_clean(ctx.api, label, value)
    if r.returncode != 0 or left:
        tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
        message = f"{tool} down exited {r.returncode}; force-removed {left} leftover container(s)"
        log(message + "".join(f"\n    {line}" for line in tail))
        ctx.result.setdefault("teardown_problems", []).append({"message": message, "tail": tail})
    return r.seconds


def reconciler_down(ctx: Ctx) -> float:
    cmd = ctx.rec("down", str(ctx.stack_dir))
    return _down(ctx, "reconciler", cmd, STACK_LABEL, stack_name(ctx.n))


def compose_down(ctx: Ctx) -> float:
    cmd = ctx.dc("down", "--remove-orphans")
    return _down(ctx, "docker-compose", cmd, COMPOSE_LABEL, project_name(ctx.n))


def expect_running(ctx: Ctx, label: str, value: str) -> None:
    running = labelled_containers(ctx.api, label, value, running=True)
    if len(running) != ctx.n:
        raise BenchError(f"{value}: {len(running)} containers running, expected {ctx.n}")


def noop_runs(ctx: Ctx, cmd: list[str], is_noop: Callable[[Run], bool]) -> dict[str, Any]:
    warm = ctx.run(cmd, timeout=ctx.tools.noop_timeout)  # warm-up: page cache, .pyc files
    if not is_noop(warm):
        raise BenchError(f"{' '.join(cmd)} was not a no-op:\n{warm.stdout}{warm.stderr}")
    times, cpu = [], []
    for _ in range(ctx.repeat):
        r = ctx.run(cmd, timeout=ctx.tools.noop_timeout)
        if not is_noop(r):
            raise BenchError(f"{' '.join(cmd)} was not a no-op:\n{r.stdout}{r.stderr}")
        times.append(r.seconds)
        cpu.append(r.cpu_seconds)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "runs_s": times,
        "cpu_median_s": statistics.median(cpu),
        "cpu_runs_s": cpu,
    }


def bench_reconciler(ctx: Ctx) -> None:
    out = ctx.result.setdefault("reconciler", {})
    stack = stack_name(ctx.n)
    reconciler_down(ctx)
    if labelled_containers(ctx.api, STACK_LABEL, stack):
        raise BenchError(f"{stack}: host not empty before the cold converge")

    log(f"{stack}: cold converge with reconciler apply ({ctx.n} apps)")
    cold = ctx.run(
        ctx.rec("apply", str(ctx.stack_dir)), timeout=ctx.tools.cold_timeout, check=False
    )
    if cold.timed_out:
        out["cold_converge_s"] = None
        out["cold_converge_timeout_s"] = cold.seconds
        out["cold_converge_note"] = f"timed out after {cold.seconds:.0f} s; finished untimed"
        log(f"{stack}: cold converge exceeded {ctx.tools.cold_timeout:.0f} s; finishing untimed")
        ctx.run(ctx.rec("apply", str(ctx.stack_dir)), timeout=4 * ctx.tools.cold_timeout)
    elif cold.returncode != 0:
        raise BenchError(f"reconciler apply failed (exit {cold.returncode}):\n{cold.stderr}")
    else:
        out["cold_converge_s"] = cold.seconds
        out["cold_converge_cpu_s"] = cold.cpu_seconds
        log(f"{stack}: cold converge took {cold.seconds:.2f} s")
    expect_running(ctx, STACK_LABEL, stack)

    plan = ctx.run(
        ctx.rec("plan", str(ctx.stack_dir), "--detailed-exitcode"), timeout=300, check=False
    )
    if plan.returncode != 0:
        raise BenchError(f"{stack}: plan after apply is not empty (exit {plan.returncode})")

    log(f"{stack}: no-op reconciler apply x{ctx.repeat}")
    out["noop_apply"] = noop_runs(
        ctx, ctx.rec("apply", str(ctx.stack_dir)), lambda r: "no changes" in r.stdout
    )
    log(f"{stack}: no-op apply median {out['noop_apply']['median_s']:.3f} s")

    log(f"{stack}: in-process observe + plan x{INPROCESS_RUNS}")
    out["inprocess_pass"] = inprocess_pass(ctx.stack_dir)
    out["inprocess_pass"]["containers_list_bytes"] = containers_payload_bytes(ctx.api, stack)
    log(f"{stack}: in-process pass median {out['inprocess_pass']['median_ms']:.1f} ms")

    out["down_s"] = reconciler_down(ctx)  # informative: reconciler down, whole process


def compose_is_noop(r: Run) -> bool:
    text = r.stdout + r.stderr
    return "up-to-date" in text and not any(
        word in text for word in ("Creating ", "Recreating ", "Starting ")
    )


def compose_api_calls(ctx: Ctx) -> dict[str, Any]:
    """Docker SDK calls of one no-op `up -d`, from compose's own --verbose log (untimed).

    compose logs each call as `compose.cli.verbose_proxy.proxy_callable: docker METHOD <- (...)`;
    its start-up `version` request is not proxied, so add one.
    """
    r = run([*ctx.tools.compose, "--verbose", *ctx.dc("up", "-d")[1:]], timeout=600, check=False)
    calls: Counter[str] = Counter({"version": 1})
    for line in (r.stdout + r.stderr).splitlines():
        marker = "proxy_callable: docker "
        if marker in line and " <- " in line:
            calls[line.split(marker, 1)[1].split(" <- ", 1)[0].strip()] += 1
    return {"total": sum(calls.values()), "by_call": dict(calls.most_common())}


def bench_compose(ctx: Ctx) -> None:
    out = ctx.result.setdefault("compose", {})
    project = project_name(ctx.n)
    compose_down(ctx)
    if labelled_containers(ctx.api, COMPOSE_LABEL, project):
        raise BenchError(f"{project}: host not empty before the cold converge")

    log(f"{project}: cold converge with docker-compose up -d ({ctx.n} services)")
    cold = ctx.run(ctx.dc("up", "-d"), timeout=ctx.tools.cold_timeout, check=False)
    if cold.timed_out:
        out["cold_converge_s"] = None
        out["cold_converge_timeout_s"] = cold.seconds
        out["cold_converge_note"] = (
            f"timed out after {cold.seconds:.0f} s; compose no-op not measured"
        )
        log(f"{project}: cold converge exceeded {ctx.tools.cold_timeout:.0f} s; skipping no-op")
        return
    if cold.returncode != 0:
        raise BenchError(f"docker-compose up -d failed (exit {cold.returncode}):\n{cold.stderr}")
    out["cold_converge_s"] = cold.seconds
    out["cold_converge_cpu_s"] = cold.cpu_seconds
    log(f"{project}: cold converge took {cold.seconds:.2f} s")
    expect_running(ctx, COMPOSE_LABEL, project)

    log(f"{project}: no-op docker-compose up -d x{ctx.repeat}")
    out["noop_apply"] = noop_runs(ctx, ctx.dc("up", "-d"), compose_is_noop)
    log(f"{project}: no-op up -d median {out['noop_apply']['median_s']:.3f} s")
    out["noop_api_calls"] = compose_api_calls(ctx)
    out["down_s"] = compose_down(ctx)


def bench_one(
    n: int, tools: Tools, repeat: int, api: Any, only: str | None, result: dict[str, Any]
) -> None:
    """Fills `result` as it goes, so a failure still leaves what was measured."""
    global WORKDIR
    with tempfile.TemporaryDirectory(prefix=f"bench{n}-") as tmp:
        WORKDIR = Path(tmp)
        ctx = Ctx(n=n, root=Path(tmp), tools=tools, api=api, repeat=repeat, result=result)
        write_stack(ctx.stack_dir, n)
        write_compose(ctx.compose_file.parent, n)
        ctx.result.update({"apps": n, "stack": stack_name(n), "project": project_name(n)})
        try:
            if only in (None, "reconciler"):
                bench_reconciler(ctx)
            if only in (None, "compose"):
                bench_compose(ctx)
        finally:
            # Whatever happened above: leave no benchmark container running.
            log(f"bench{n}: tearing down")
            for down in (reconciler_down, compose_down):
                try:
                    down(ctx)
                except Exception as e:  # keep tearing down the other one
                    log(f"teardown error: {e}")
                    result.setdefault("teardown_problems", []).append({"message": str(e)})


# --------------------------------------------------------------------------- report


def evaluate(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per measurement: reconciler, compose, ratio, target, PASS/MISS."""
    rows: list[dict[str, Any]] = []
    for res in results:
        n = res["apps"]
        rec, comp = res.get("reconciler", {}), res.get("compose", {})

        r_cold, c_cold = rec.get("cold_converge_s"), comp.get("cold_converge_s")
        ratio: float | str | None = c_cold / r_cold if r_cold and c_cold else None
        verdict = None if ratio is None else ("PASS" if r_cold <= c_cold else "MISS")
        r_shown: Any = r_cold
        c_shown: Any = c_cold
        r_limit, c_limit = _timeout(rec), _timeout(comp)
        if c_cold is None and c_limit and r_cold is not None:  # compose was stopped at the limit
            c_shown, ratio = f"> {c_limit:.0f} (killed)", f"> {c_limit / r_cold:.1f}x"
            verdict = "PASS" if r_cold < c_limit else "MISS"
        elif r_cold is None and r_limit and c_cold is not None:
            r_shown, verdict = f"> {r_limit:.0f} (killed)", "MISS"
        notes = (
            [f"reconciler: {rec['cold_converge_note']}"] if rec.get("cold_converge_note") else []
        )
        if comp.get("cold_converge_note"):
            notes.append(f"compose: {comp['cold_converge_note']}")
        rows.append({
            "measure": "cold converge, whole process (s)", "apps": n,
            "reconciler": r_shown, "compose": c_shown, "ratio": ratio,
            "target": "reconciler <= compose", "result": verdict,
            "note": "; ".join(notes) or None,
        })  # fmt: skip

        r_noop = (rec.get("noop_apply") or {}).get("median_s")
        c_noop = (comp.get("noop_apply") or {}).get("median_s")
        ratio = c_noop / r_noop if r_noop and c_noop else None
        target, verdict = "(info)", None
        if n == TARGET_NOOP_APPS:
            target = f">= {TARGET_NOOP_SPEEDUP:g}x faster"
            verdict = (
                None if ratio is None else ("PASS" if ratio >= TARGET_NOOP_SPEEDUP else "MISS")
            )
        rows.append({
            "measure": "no-op apply vs up -d, whole process, median (s)", "apps": n,
            "reconciler": r_noop, "compose": c_noop, "ratio": ratio,
            "target": target, "result": verdict,
        })  # fmt: skip

        r_cpu = (rec.get("noop_apply") or {}).get("cpu_median_s")
        c_cpu = (comp.get("noop_apply") or {}).get("cpu_median_s")
        rows.append({
            "measure": "  same, CPU user+sys of the process, median (s)", "apps": n,
            "reconciler": r_cpu, "compose": c_cpu,
            "ratio": c_cpu / r_cpu if r_cpu and c_cpu else None,
            "target": "(info: less load-sensitive)", "result": None,
        })  # fmt: skip

        p = rec.get("inprocess_pass") or {}
        ms = p.get("median_ms")
        target, verdict = "(info)", None
        if n == TARGET_PASS_APPS:
            target = f"< {TARGET_PASS_MS:g} ms"
            verdict = None if ms is None else ("PASS" if ms < TARGET_PASS_MS else "MISS")
        rows.append({
            "measure": "no-op pass in-process, observe+plan, median (ms)", "apps": n,
            "reconciler": ms, "compose": None, "ratio": None, "target": target, "result": verdict,
        })  # fmt: skip
        cached = (p.get("cached") or {}).get("median_ms")
        if cached is not None:
            verdict = None
            if n == TARGET_PASS_APPS:
                verdict = "PASS" if cached < TARGET_PASS_MS else "MISS"
            rows.append({
                "measure": "  same, daemon: warm observed cache, median (ms)", "apps": n,
                "reconciler": cached, "compose": None, "ratio": None,
                "target": target, "result": verdict,
            })  # fmt: skip
        if p:
            calls = p.get("port_calls_total")
            rows.append({
                "measure": "Docker API calls, one no-op pass (compose: up -d)", "apps": n,
                "reconciler": calls, "compose": (comp.get("noop_api_calls") or {}).get("total"),
                "ratio": None, "target": "constant, 0 mutating",
                "result": "PASS" if calls is not None and calls <= 4 and p["mutating_calls"] == 0
                else "MISS",
            })  # fmt: skip
    return rows


def _timeout(tool: dict[str, Any]) -> float | None:
    """The limit a cold converge was stopped at, if it was."""
    if tool.get("cold_converge_timeout_s"):
        return float(tool["cold_converge_timeout_s"])
    match = re.search(r"timed out after (\d+) s", tool.get("cold_converge_note") or "")
    return float(match.group(1)) if match else None


def fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}" if unit == "ms" else f"{value:.3f}"
    return str(value)


def _ratio(value: float | str | None) -> str:
    if isinstance(value, str):
        return value
    return f"{value:.2f}x" if value else "—"


def render(rows: list[dict[str, Any]]) -> str:
    header = ["measurement", "apps", "reconciler", "compose", "compose/rec", "target", "result"]
    table = [header]
    for row in rows:
        unit = "ms" if "(ms)" in row["measure"] else ""
        table.append([
            row["measure"], str(row["apps"]),
            fmt(row["reconciler"], unit), fmt(row["compose"], unit),
            _ratio(row["ratio"]), row["target"], row["result"] or "—",
        ])  # fmt: skip
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = []
    for i, r in enumerate(table):
        lines.append(
            "  ".join(
                c.ljust(w) if j == 0 else c.rjust(w)
                for j, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [f"note ({row['apps']} apps): {row['note']}" for row in rows if row.get("note")]
    return "\n".join(lines + notes)


def environment(tools: Tools, api: Any) -> dict[str, Any]:
    def version(cmd: list[str]) -> str:
        try:
            return run(cmd, timeout=60).stdout.strip().splitlines()[0]
        except Exception as e:
            return f"unknown ({e})"

    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "loadavg_at_start": os.getloadavg(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "docker_engine": api.version().get("Version"),
        "reconciler_source": tools.reconciler_source,
        "reconciler_cmd": tools.reconciler,
        "compose": version([*tools.compose, "version", "--short"]),
        "image": IMAGE,
        "command": COMMAND,
    }


def save(payload: dict[str, Any]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")


def _set_results(path: str | None) -> None:
    global RESULTS
    if path:
        RESULTS = Path(path).resolve()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--apps", type=int, nargs="+", default=[50], help="stack sizes (default: 50)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="no-op runs per tool (median)")
    parser.add_argument(
        "--cold-timeout",
        type=float,
        default=600.0,
        help="give up timing a cold converge after this many seconds (default 600)",
    )
    parser.add_argument("--only", choices=["reconciler", "compose"], help="measure one tool only")
    parser.add_argument(
        "--reconciler",
        default=None,
        help="reconciler command (default: the console script next to this Python)",
    )
    parser.add_argument("--compose", default=shutil.which("docker-compose") or "docker-compose")
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help="measure a copy of reconciler/ taken at start, immune to edits others make "
        "in the working tree during the run",
    )
    parser.add_argument(
        "--bytecode",
        choices=["cache", "inherit"],
        default="cache",
        help="cache (default): reconciler runs with .pyc caching, like a pip install; "
        "inherit: as the environment says (e.g. PYTHONDONTWRITEBYTECODE=1)",
    )
    parser.add_argument("--out", help=f"results file (default: {RESULTS})")
    parser.add_argument(
        "--report",
        action="store_true",
        help=f"measure nothing: re-evaluate and print {RESULTS.name} again",
    )
    args = parser.parse_args(argv)  # fmt: skip
    _set_results(args.out)

    if args.report:
        payload = json.loads(RESULTS.read_text())
        payload["table"] = evaluate(payload["results"])
        save(payload)
        print_report(payload)
        return 0
    check_local_docker()
    scratch = Path(tempfile.mkdtemp(prefix="bench-scratch-"))
    try:
        return _main(args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _main(args: argparse.Namespace, scratch: Path) -> int:
    source = prepare_source(
        scratch,
        snapshot=args.snapshot,
        bytecode=args.bytecode,
        cmd=args.reconciler.split() if args.reconciler else None,
    )
    use_in_process(source)
    tools = Tools(
        reconciler=source.cmd,
        compose=[args.compose],
        cold_timeout=args.cold_timeout,
        reconciler_env=source.env,
        reconciler_source=source.description,
    )
    api = docker_client()
    api.ping()

    def on_term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    payload: dict[str, Any] = {"environment": environment(tools, api), "results": [], "table": []}
    try:
        for n in args.apps:
            payload["results"].append(result := {"apps": n})
            bench_one(n, tools, args.repeat, api, args.only, result)
            payload["table"] = evaluate(payload["results"])
            payload["environment"]["loadavg_at_end"] = os.getloadavg()
            save(payload)
    except (Exception, KeyboardInterrupt) as e:
        log(f"stopped: {e}")
        payload["error"] = str(e)
        payload["table"] = evaluate(payload["results"])
        save(payload)
        print(render(payload["table"]))
        return 1
    payload["repeat"] = args.repeat
    save(payload)
    print_report(payload)
    return 0


def print_report(payload: dict[str, Any]) -> None:
    env = payload["environment"]
    print()
    print(f"reconciler vs docker-compose {env['compose']}: {env['cpus']} CPUs, "
          f"docker {env['docker_engine']}, reconciler = {env['reconciler_source']}; "
          f"no-op median of {payload.get('repeat', '?')} runs after a warm-up, in-process "
          f"median of {INPROCESS_RUNS}; load average {env['loadavg_at_start'][0]:.1f} at start, "
          f"{env.get('loadavg_at_end', [float('nan')])[0]:.1f} at end")  # fmt: skip
    print(render(payload["table"]))
    for res in payload["results"]:
        p = (res.get("reconciler") or {}).get("inprocess_pass")
        if p:
            print(f"{res['apps']} apps, one no-op pass: port calls {p['port_calls']}, "
                  f"mutating {p['mutating_calls']}, HTTP {p['http_requests']}, "
                  f"containers list {p['containers_list_bytes'] / 1024:.0f} KiB; "
                  f"observe {p['observe_median_ms']:.1f} ms + "
                  f"plan {p['plan_median_ms']:.1f} ms")  # fmt: skip
            c = p.get("cached")
            if c:
                print(f"{res['apps']} apps, same pass through the daemon's observed cache (event "
                      f"stream connected, primed once): HTTP per pass {c['http_requests']}, "
                      f"observe {c['observe_median_ms']:.1f} ms + plan {c['plan_median_ms']:.1f}"
                      f" ms, median {c['median_ms']:.1f} ms (min {c['min_ms']:.1f}, max "
                      f"{c['max_ms']:.1f}); re-primed {c['primes_during_runs']} time(s) while "
                      "timed")  # fmt: skip
        c = (res.get("compose") or {}).get("noop_api_calls")
        if c:
            top = ", ".join(f"{k} x{v}" for k, v in list(c["by_call"].items())[:5])
            print(f"{res['apps']} apps, compose no-op up -d SDK calls: {c['total']} ({top})")
    print(f"results: {RESULTS}")


if __name__ == "__main__":
    sys.exit(main())
