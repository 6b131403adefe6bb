"""A full disk mid-backup: a real tmpfs of 512 KiB as the destination of a real PostgreSQL dump.

The run must end as a `failed` record that says the disk is full, leave no partial file, and
leave the earlier backup whole; once there is room again, the next backup succeeds.
"""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .test_backup_crash import stack_doc
from .test_backup_roundtrip import PSQL, Env, deployed, postgres_marks, sh

pytestmark = postgres_marks()

TMPFS_BYTES = 512 * 1024


@contextlib.contextmanager
def tmpfs(directory: Path, size: int) -> Iterator[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    (tmp_path / "repo").mkdir()
    with deployed(stack_doc, tmp_path / "repo", tmp_path / "state") as environment:
        yield environment


def test_a_full_disk_fails_the_backup_and_keeps_the_earlier_one(env: Env) -> None:
    db = f"{env.stack}-db"
    with tmpfs(env.state / "backups" / env.stack / "db", TMPFS_BYTES) as destination:
        earlier = env.backup("db-daily")  # an empty database: a few KiB
        assert earlier["status"] == "completed" and earlier["size"] < TMPFS_BYTES // 10
        earlier_sha = hashlib.sha256(Path(earlier["path"]).read_bytes()).hexdigest()

        # Random hex compresses about 2:1, so this dumps to well over the 512 KiB there are.
        rows = "SELECT g, md5(g::text) || md5((g * 3)::text) FROM generate_series(1, 40000) g"
        sh(db, f'{PSQL} -c "CREATE TABLE big AS {rows}"')
        full = env.run("backup", "db-daily")
        assert full.returncode == 1
        assert "No space left on device" in full.stderr, full.stderr
        failed = env.backups()[0]
        assert failed["status"] == "failed" and "No space left on device" in failed["error"]
        assert sorted(destination.iterdir()) == [Path(earlier["path"])]  # no partial file
        assert hashlib.sha256(Path(earlier["path"]).read_bytes()).hexdigest() == earlier_sha

        sh(db, f"{PSQL} -c 'DROP TABLE big'")
        again = env.backup("db-daily")  # room again: the source is not stuck
        assert again["status"] == "completed"
        assert {p.name for p in destination.iterdir()} == {
            Path(earlier["path"]).name,
            Path(again["path"]).name,
        }
