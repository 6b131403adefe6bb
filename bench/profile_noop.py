#!/usr/bin/env python3
"""Where does a no-op `reconciler apply` spend its time?

Converges a generated stack of N apps (same generator as compare_compose.py), then, with nothing
left to change, measures:

  * phases of one fresh `reconciler apply` process (median of --repeat fresh interpreters):
    interpreter start, imports, manifest load, git revision, desired state, observe, plan, render
  * `python -X importtime`: the most expensive imports (cumulative, top-level packages)
  * cProfile of a whole no-op `reconciler apply` process, and of the in-process pass
    (observe + plan, x20)
  * what `local_revision` costs when the stack directory is a git checkout (two git processes)

and tears the stack down again. Text report: bench/results/profile-N.txt, data: profile-N.json.

    python bench/profile_noop.py --apps 50
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare_compose
from compare_compose import (
    LAUNCHER,
    STACK_LABEL,
    BenchError,
    Run,
    Source,
    check_local_docker,
    docker_client,
    force_clean,
    log,
    prepare_source,
    stack_name,
    use_in_process,
    write_stack,
)

#: Environment for every reconciler process (PYTHONPATH of a snapshot); set in main().
ENV: dict[str, str] | None = None


def run(cmd: list[str], *, timeout: float, check: bool = True) -> Run:
    return compare_compose.run(cmd, timeout=timeout, check=check, env=ENV)


RESULTS_DIR = Path(__file__).resolve().parent / "results"

#: Runs in a fresh interpreter: the same steps as `reconciler apply` on a no-op, timed one by one.
PHASES = r"""
import json, sys, time
t = [("start", time.perf_counter())]
def mark(name): t.append((name, time.perf_counter()))
from pathlib import Path
import reconciler.cli.main
mark("import reconciler.cli.main (CLI, parser)")
from reconciler.engine import Engine
mark("import reconciler.engine (models, YAML, planner, apply, ...)")
from reconciler.observed.docker_adapter import DockerSdkPort
mark("import reconciler.observed.docker_adapter")
from reconciler.gitsync.revision import local_revision
from reconciler.manifests.loader import resolve_root
from reconciler.observed.observe import observe
from reconciler.plan.planner import make_plan
from reconciler.plan.render import plan_to_text
mark("import the rest")
engine = Engine(DockerSdkPort())
mark("Engine(DockerSdkPort())")
path = Path(sys.argv[1])
root, _ = resolve_root(path)
revision = local_revision(root)
mark("local_revision (git subprocesses)")
try:
    from reconciler.manifests.loader import load_stack
    load_stack(path)
    mark("load_stack alone (ruamel parse + pydantic validation + semantic checks)")
except ImportError:
    pass
desired = engine.desired(path, revision)
mark("engine.desired (load again + build specs, hashes)")
observed = observe(engine.port, desired.stack)
mark("observe (list calls)")
plan = make_plan(desired, observed)
mark("make_plan")
text = plan_to_text(plan)
mark("plan_to_text")
assert plan.empty, text
out = {name: (b - a) * 1000 for (_, a), (name, b) in zip(t, t[1:])}
out["docker SDK imported"] = "docker" in sys.modules
out["requests imported"] = "requests" in sys.modules
out["pydantic imported"] = "pydantic" in sys.modules
out["asyncio imported"] = "asyncio" in sys.modules
out["modules"] = len(sys.modules)
print(json.dumps(out))
"""


def phases(python: str, stack_dir: Path, repeat: int) -> dict[str, Any]:
    runs = []
    for _ in range(repeat):
        r = run([python, "-c", PHASES, str(stack_dir)], timeout=120)
        runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
    keys = [k for k, v in runs[0].items() if isinstance(v, float)]
    medians = {k: statistics.median(r[k] for r in runs) for k in keys}
    flags = {k: v for k, v in runs[0].items() if not isinstance(v, float)}
    bare = [run([python, "-c", "pass"], timeout=60).seconds * 1000 for _ in range(repeat)]
    site = [run([python, "-S", "-c", "pass"], timeout=60).seconds * 1000 for _ in range(repeat)]
    return {
        "phases_ms": medians,
        "flags": flags,
        "interpreter_start_ms": statistics.median(bare),
        "interpreter_start_no_site_ms": statistics.median(site),
    }


def whole_process(cmd: list[str], stack_dir: Path, repeat: int) -> float:
    run([*cmd, "apply", str(stack_dir)], timeout=120)
    return statistics.median(
        run([*cmd, "apply", str(stack_dir)], timeout=120).seconds * 1000 for _ in range(repeat)
    )


def importtime(python: str, script: Path, stack_dir: Path) -> dict[str, Any]:
    """Best of three `-X importtime` runs of a no-op apply (script: the CLI launcher)."""
    best: list[tuple[int, int, int, str]] | None = None
    for _ in range(3):
        r = run([python, "-X", "importtime", str(script), "apply", str(stack_dir)], timeout=120)
        rows = []
        for line in r.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, cumulative, name = line[len("import time:") :].split("|")
            depth = (len(name) - len(name.lstrip())) // 2
            rows.append((int(self_us), int(cumulative), depth, name.strip()))
        if best is None or sum(r[0] for r in rows) < sum(r[0] for r in best):
            best = rows
    assert best is not None
    total_ms = sum(r[0] for r in best) / 1000
    by_root: dict[str, float] = {}
    for self_us, _, _, name in best:
        root = name.split(".")[0]
        by_root[root] = by_root.get(root, 0) + self_us / 1000
    top_level = sorted(
        ((cum / 1000, name) for _, cum, depth, name in best if depth <= 1), reverse=True
    )
    # -X importtime lists a module after everything it imported, one indent level deeper; the
    # importer of a row is the next row with a smaller depth.
    importers: dict[str, str] = {}
    for i, (_, _, depth, name) in enumerate(best):
        root = name.split(".")[0]
        if root in importers or root in ("reconciler", "encodings", "site"):
            continue
        chain, level, last_root = [], depth, root
        for row in best[i + 1 :]:  # ancestors, one per package, up to three
            if row[2] < level:
                level = row[2]
                if row[3].split(".")[0] != last_root:
                    chain.append(row[3])
                    last_root = row[3].split(".")[0]
                    if len(chain) == 3 or last_root == "reconciler":
                        break
        importers[root] = " <- ".join(chain) or "<main>"
    heavy = [k for k, v in by_root.items() if v >= 3 and k in importers]
    return {
        "importers": {k: importers[k] for k in sorted(heavy, key=lambda k: -by_root[k])},
        "total_self_ms": total_ms,
        "modules": len(best),
        "by_package_self_ms": dict(sorted(by_root.items(), key=lambda kv: -kv[1])[:20]),
        "top_level_cumulative_ms": [(name, round(ms, 1)) for ms, name in top_level[:25]],
        "slowest_self_ms": [
            (name, round(s / 1000, 1)) for s, _, _, name in sorted(best, reverse=True)[:15]
        ],
    }


def pstats_text(profile: pstats.Stats | str, sort: str, limit: int) -> str:
    buffer = io.StringIO()
    stats = pstats.Stats(profile, stream=buffer) if isinstance(profile, str) else profile
    stats.stream = buffer  # type: ignore[attr-defined]
    stats.strip_dirs().sort_stats(sort).print_stats(limit)
    text = buffer.getvalue()
    return text[text.find("   ncalls") :] if "   ncalls" in text else text


def cprofile_process(python: str, script: Path, stack_dir: Path, out: Path) -> str:
    run(
        [python, "-m", "cProfile", "-o", str(out), str(script), "apply", str(stack_dir)],
        timeout=120,
    )
    return (
        "-- by cumulative time --\n"
        + pstats_text(str(out), "cumulative", 35)
        + "\n-- by own time --\n"
        + pstats_text(str(out), "tottime", 25)
    )


def cprofile_pass(stack_dir: Path, runs: int = 20) -> tuple[str, float]:
    from reconciler.engine import Engine
    from reconciler.observed.docker_adapter import DockerSdkPort
    from reconciler.observed.observe import observe
    from reconciler.plan.planner import make_plan

    port = DockerSdkPort()
    desired = Engine(port).desired(stack_dir)
    make_plan(desired, observe(port, desired.stack))
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(runs):
        plan = make_plan(desired, observe(port, desired.stack))
    profiler.disable()
    elapsed = (time.perf_counter() - started) / runs * 1000
    if not plan.empty:
        raise BenchError("in-process pass is not a no-op")
    return pstats_text(pstats.Stats(profiler), "tottime", 20), elapsed


def observe_breakdown(stack: str, runs: int = 10) -> dict[str, dict[str, float]]:
    """Per list call of a pass: engine time to first byte, body transfer, json.loads, and turning
    the payload into Live* values (medians, ms; bytes of the body)."""
    import http.client
    import socket
    from urllib.parse import quote

    from reconciler.observed.normalize import (
        container_from_summary,
        image_references,
        network_from_summary,
        volume_from_summary,
    )

    class Unix(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")[7:])

    filters = quote(json.dumps({"label": [f"{STACK_LABEL}={stack}"]}))
    calls: dict[str, tuple[str, Any]] = {
        "containers": (
            f"/v1.41/containers/json?all=1&filters={filters}",
            lambda doc: [container_from_summary(c) for c in doc],
        ),
        "networks": (
            f"/v1.41/networks?filters={filters}",
            lambda doc: [network_from_summary(n) for n in doc],
        ),
        "volumes": (
            f"/v1.41/volumes?filters={filters}",
            lambda doc: [volume_from_summary(v) for v in doc.get("Volumes") or []],
        ),
        "images": ("/v1.41/images/json", image_references),
    }
    conn = Unix("localhost", timeout=60)
    out: dict[str, dict[str, float]] = {}
    for name, (target, normalize) in calls.items():
        samples: dict[str, list[float]] = {"ttfb": [], "body": [], "json": [], "normalize": []}
        size = 0
        for _ in range(runs + 1):
            t0 = time.perf_counter()
            conn.request("GET", target)
            response = conn.getresponse()
            t1 = time.perf_counter()
            body = response.read()
            t2 = time.perf_counter()
            doc = json.loads(body)
            t3 = time.perf_counter()
            normalize(doc)
            t4 = time.perf_counter()
            size = len(body)
            for key, value in zip(samples, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                value_ms = value * 1000
                samples[key].append(value_ms)
        out[name] = {k: statistics.median(v[1:]) for k, v in samples.items()}
        out[name]["bytes"] = size
    conn.close()
    return out


def git_revision_cost(stack_dir: Path, repeat: int) -> dict[str, float]:
    """local_revision in a plain directory vs in a clean git checkout of the same files."""
    from reconciler.gitsync.revision import local_revision

    with tempfile.TemporaryDirectory(prefix="bench-git-") as tmp:
        repo = Path(tmp) / "repo"
        shutil.copytree(stack_dir, repo)
        env = ["-c", "user.name=bench", "-c", "user.email=bench@localhost"]
        for cmd in (["init", "-q"], ["add", "."], [*env, "commit", "-qm", "stack"]):
            subprocess.run(["git", "-C", str(repo), *cmd], check=True, capture_output=True)

        def median_ms(path: Path) -> float:
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                local_revision(path)
                times.append((time.perf_counter() - t0) * 1000)
            return statistics.median(times)

        return {"plain_dir_ms": median_ms(stack_dir), "git_checkout_ms": median_ms(repo)}


def main() -> int:
    global ENV
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--apps", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--snapshot", action="store_true", help="profile a copy of reconciler/ taken at start"
    )
    args = parser.parse_args()

    check_local_docker()
    api = docker_client()
    n = args.apps
    report: dict[str, Any] = {"apps": n}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"profile{n}-") as tmp:
        source: Source = prepare_source(Path(tmp), snapshot=args.snapshot)
        use_in_process(source)
        ENV = source.env
        report["source"] = source.description
        cmd = source.cmd
        launcher = Path(tmp) / "launch_reconciler.py"  # same as the console script
        launcher.write_text(LAUNCHER)
        python = sys.executable
        stack_dir = Path(tmp) / "stack"
        write_stack(stack_dir, n)
        # reconciler keeps state relative to the working directory: keep it out of the repo.
        compare_compose.WORKDIR = Path(tmp)
        os.chdir(tmp)
        try:
            log(f"converging {stack_name(n)} ({n} apps) with {source.description}")
            run([*cmd, "apply", str(stack_dir)], timeout=1800)
            log("whole-process no-op apply")
            report["whole_process_ms"] = whole_process(cmd, stack_dir, args.repeat)
            # The same without .pyc caching, as this environment's PYTHONDONTWRITEBYTECODE says.
            inherit = dict(os.environ)
            if source.path is not None:
                inherit["PYTHONPATH"] = str(source.path)
            ENV = inherit
            report["whole_process_no_pyc_cache_ms"] = whole_process(cmd, stack_dir, args.repeat)
            report["env_dont_write_bytecode"] = os.environ.get("PYTHONDONTWRITEBYTECODE", "")
            ENV = source.env
            log("phases")
            report.update(phases(python, stack_dir, args.repeat))
            log("importtime")
            report["importtime"] = importtime(python, launcher, stack_dir)
            log("cProfile")
            report["cprofile_process"] = cprofile_process(
                python, launcher, stack_dir, Path(tmp) / "apply-noop.prof"
            )
            report["cprofile_pass"], report["pass_ms_under_profiler"] = cprofile_pass(stack_dir)
            report["local_revision"] = git_revision_cost(stack_dir, args.repeat)
            report["observe_breakdown_ms"] = observe_breakdown(stack_name(n))
        finally:
            log("tearing down")
            run([*cmd, "down", str(stack_dir)], timeout=1800, check=False)
            force_clean(api, STACK_LABEL, stack_name(n))
            os.chdir(Path(__file__).resolve().parent)

    (RESULTS_DIR / f"profile-{n}.json").write_text(json.dumps(report, indent=2) + "\n")
    text = render(report)
    (RESULTS_DIR / f"profile-{n}.txt").write_text(text)
    print(text)
    return 0


def render(r: dict[str, Any]) -> str:
    lines = [
        f"No-op `reconciler apply`, {r['apps']} apps ({r['source']}): "
        f"whole process {r['whole_process_ms']:.0f} ms (median)"
    ]
    if r.get("env_dont_write_bytecode"):
        lines.append(
            f"  (with this environment's PYTHONDONTWRITEBYTECODE="
            f"{r['env_dont_write_bytecode']}, reconciler compiled from source on every start: "
            f"{r['whole_process_no_pyc_cache_ms']:.0f} ms)"
        )
    lines.append(
        f"  interpreter start {r['interpreter_start_ms']:.0f} ms "
        f"(-S, no site-packages .pth processing: {r['interpreter_start_no_site_ms']:.0f} ms)"
    )
    for name, ms in r["phases_ms"].items():
        lines.append(f"  {ms:7.1f} ms  {name}")
    lines.append(f"  flags: {r['flags']}")
    imp = r["importtime"]
    lines.append(
        f"\n-X importtime: {imp['modules']} modules, {imp['total_self_ms']:.0f} ms in total"
    )
    lines.append("  by package (self time): " + ", ".join(
        f"{k} {v:.0f}" for k, v in imp["by_package_self_ms"].items()))  # fmt: skip
    lines.append("  first importer of each costly package (>= 3 ms self):")
    lines += [f"    {pkg:<20} <- {parent}" for pkg, parent in imp["importers"].items()]
    lines.append("  top-level imports (cumulative ms):")
    lines += [f"    {ms:7.1f}  {name}" for name, ms in imp["top_level_cumulative_ms"]]
    lines.append("  slowest single modules (self ms):")
    lines += [f"    {ms:7.1f}  {name}" for name, ms in imp["slowest_self_ms"]]
    rev = r["local_revision"]
    lines.append(
        f"\nlocal_revision: plain dir {rev['plain_dir_ms']:.1f} ms, "
        f"clean git checkout {rev['git_checkout_ms']:.1f} ms (rev-parse + status)"
    )
    lines.append(
        "\nobserve, per list call (median ms): engine until headers, body, json, normalize"
    )
    for name, b in r["observe_breakdown_ms"].items():
        lines.append(
            f"  {name:<10} {b['ttfb']:6.1f} {b['body']:6.1f} {b['json']:6.1f} "
            f"{b['normalize']:6.1f}   ({b['bytes'] / 1024:.0f} KiB)"
        )
    lines.append(f"\ncProfile, whole no-op apply process:\n{r['cprofile_process']}")
    lines.append(
        f"\ncProfile, in-process pass (observe + plan) x20, "
        f"{r['pass_ms_under_profiler']:.1f} ms/pass under the profiler:\n{r['cprofile_pass']}"
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
