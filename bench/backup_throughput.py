#!/usr/bin/env python3
"""Backup throughput of `reconciler backup` against a plain `docker exec … pg_dump -Fc > file`.

Brings up a PostgreSQL add-on (reconciler-fixture/postgres:15), fills it with about --gb of
table data (generate_series in the container), then alternates, --rounds times each:

  * plain:      docker exec CONTAINER <the catalog's pg_dump -Fc command> > file
  * reconciler: reconciler backup db (a fresh process: streams, hashes, fsyncs, records)

and prints database size, dump size, seconds, MB/s of database per second, the ratio of
the best rounds (target >= 90 %), the medians, and the peak RSS of the reconciler process
(target < 150 MB, read from wait4's rusage of the child).
Results also go to bench/results/backup-throughput.json.

    python bench/backup_throughput.py --gb 1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGE_REPO = "reconciler-fixture/postgres"
PSQL = 'PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -tA'
#: Bytes a generated row takes on disk (measured: two md5 texts, an int, a timestamp).
ROW_BYTES = 120


def run(*cmd: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def reconciler(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "reconciler.cli.main", *map(str, args)]


def psql(container: str, sql: str) -> str:
    return run("docker", "exec", container, "sh", "-c", f'{PSQL} -c "{sql}"').stdout.strip()


def setup(stack: str, repo: Path, state: Path, gb: float) -> tuple[str, int]:
    doc = {
        "version": 1,
        "stack": stack,
        "settings": {"images": {"postgresql": IMAGE_REPO}},
        "addons": {"db": {"type": "postgresql", "version": "15", "memory": "2Gi"}},
    }
    (repo / "stack.yaml").write_text(json.dumps(doc))
    subprocess.run(reconciler("apply", repo, "--state-dir", state), check=True, cwd=REPO)
    container = f"{stack}-db"
    rows = int(gb * 1024**3 / ROW_BYTES)
    print(f"generating {rows:,} rows (~{gb:g} GB)...", flush=True)
    started = time.monotonic()
    # Four tables filled side by side: generation is CPU-bound and there are cores to spare.
    quarter = rows // 4
    procs = [
        subprocess.Popen(
            [
                "docker",
                "exec",
                container,
                "sh",
                "-c",
                f'{PSQL} -c "CREATE TABLE t{i} AS SELECT g AS id, md5(g::text) AS a, '
                f'md5((g * {i + 7})::text) AS b, now() AS at FROM generate_series(1, {quarter}) g"',
            ],
            stdout=subprocess.DEVNULL,
        )
        for i in range(4)
    ]
    if any(p.wait() != 0 for p in procs):
        raise SystemExit("generating data failed")
    size = int(psql(container, "SELECT pg_database_size(current_database())"))
    print(f"generated {size / 1e6:,.0f} MB in {time.monotonic() - started:.0f}s", flush=True)
    return container, size


def plain_dump(container: str, target: Path) -> float:
    from reconciler.addons.catalog import CATALOG

    command = list(CATALOG["postgresql"].backup_command)
    started = time.monotonic()
    with target.open("wb") as out:
        subprocess.run(["docker", "exec", container, *command], stdout=out, check=True)
    return time.monotonic() - started


def reconciler_backup(repo: Path, state: Path) -> tuple[float, int, int]:
    """Seconds, peak RSS in bytes, and the dump's size, of one `reconciler backup db`."""
    started = time.monotonic()
    proc = subprocess.Popen(
        reconciler("backup", "db", repo, "--state-dir", state), cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - started
    out = (proc.stdout.read() if proc.stdout else b"").decode()
    err = (proc.stderr.read() if proc.stderr else b"").decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"reconciler backup failed:\n{out}\n{err}")
    newest = max((state / "backups").rglob("*.pgdump"), key=lambda p: p.stat().st_mtime)
    size = newest.stat().st_size
    newest.unlink()  # keep the disk from filling over the rounds
    return elapsed, usage.ru_maxrss * 1024, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gb", type=float, default=1.0, help="database size to generate")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    stack = f"bench-{uuid.uuid4().hex[:6]}"
    work = Path(tempfile.mkdtemp(prefix="backup-bench-"))
    repo, state = work / "repo", work / "state"
    repo.mkdir()
    try:
        container, db_size = setup(stack, repo, state, args.gb)
        plain, ours, rss = [], [], []
        dump_size = 0
        for round_ in range(1, args.rounds + 1):
            target = work / "plain.pgdump"
            plain.append(plain_dump(container, target))
            dump_size = target.stat().st_size
            target.unlink()
            seconds, peak, size = reconciler_backup(repo, state)
            ours.append(seconds)
            rss.append(peak)
            line = f"round {round_}: plain {plain[-1]:.1f}s, reconciler {seconds:.1f}s"
            print(f"{line} (dump {size / 1e6:,.0f} MB), peak RSS {peak / 1e6:.0f} MB", flush=True)
        report(db_size, dump_size, plain, ours, rss, args)
    finally:
        subprocess.run(reconciler("down", repo, "--volumes", "--state-dir", state),
                       cwd=REPO, capture_output=True, check=False)  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)
    return 0


def report(
    db_size: int, dump_size: int, plain: list[float], ours: list[float], rss: list[int],
    args: argparse.Namespace,
) -> None:  # fmt: skip
    best_plain, best_ours = min(plain), min(ours)
    ratio = best_plain / best_ours
    result = {
        "database_bytes": db_size,
        "dump_bytes": dump_size,
        "plain_seconds": plain,
        "reconciler_seconds": ours,
        "plain_mb_per_s": db_size / best_plain / 1e6,
        "reconciler_mb_per_s": db_size / best_ours / 1e6,
        "throughput_ratio": ratio,
        "peak_rss_bytes": max(rss),
        "median_plain_seconds": statistics.median(plain),
        "median_reconciler_seconds": statistics.median(ours),
        "rounds": args.rounds,
    }
    print()
    print(f"database {db_size / 1e6:,.0f} MB, pg_dump -Fc output {dump_size / 1e6:,.0f} MB")
    print(f"plain docker exec pg_dump > file: {best_plain:6.1f}s  "
          f"{result['plain_mb_per_s']:6.1f} MB/s of database")  # fmt: skip
    print(f"reconciler backup:                {best_ours:6.1f}s  "
          f"{result['reconciler_mb_per_s']:6.1f} MB/s of database")  # fmt: skip
    plain_median, ours_median = result["median_plain_seconds"], result["median_reconciler_seconds"]
    print(f"medians over {args.rounds} rounds: {plain_median:.1f}s plain, {ours_median:.1f}s ours")
    verdict = "ok" if ratio >= 0.9 else "BELOW TARGET"
    print(f"throughput: {ratio:.1%} of plain (target >= 90%: {verdict})")
    peak = max(rss) / 1e6
    print(f"peak RSS of the reconciler process: {peak:.0f} MB (target < 150 MB: "
          f"{'ok' if peak < 150 else 'ABOVE TARGET'})")  # fmt: skip
    out = REPO / "bench" / "results" / "backup-throughput.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    sys.exit(main())
