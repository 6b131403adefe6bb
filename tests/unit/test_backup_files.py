"""Backup files: streamed writes under a temporary name, checksums, bounded decompression."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import pytest

from reconciler.backups.files import StreamWriter, read_chunks, sha256_of
from reconciler.backups.sources import resolve
from reconciler.manifests.models import Stack
from reconciler.state.errors import BackupError


def test_compressed_stream_round_trips_and_hashes_what_is_on_disk(tmp_path: Path) -> None:
    final = tmp_path / "sub" / "db.sql.gz"
    writer = StreamWriter(final, compress=True)
    assert writer.partial.name == "db.sql.gz.partial" and writer.partial.exists()
    assert not final.exists()  # nothing under the final name until it is whole
    for i in range(100):
        writer.write(f"INSERT INTO t VALUES ({i});\n".encode() * 100)
    size, digest = writer.commit()
    data = final.read_bytes()
    assert not writer.partial.exists() and len(data) == size
    assert hashlib.sha256(data).hexdigest() == digest == sha256_of(final)
    assert gzip.decompress(data).count(b"INSERT") == 10000  # a plain gzip file
    assert b"".join(read_chunks(final, decompress=True)) == gzip.decompress(data)


def test_uncompressed_stream_is_stored_as_is(tmp_path: Path) -> None:
    writer = StreamWriter(tmp_path / "x.pgdump", compress=False)
    writer.write(b"PGDMP")
    writer.write(b"rest")
    size, _ = writer.commit()
    assert (tmp_path / "x.pgdump").read_bytes() == b"PGDMPrest" and size == 9


def test_discard_removes_the_partial_and_a_second_writer_cannot_share_it(tmp_path: Path) -> None:
    writer = StreamWriter(tmp_path / "a.gz", compress=True)
    writer.write(b"half")
    with pytest.raises(FileExistsError):
        StreamWriter(tmp_path / "a.gz", compress=True)
    writer.discard()
    assert list(tmp_path.iterdir()) == []


def test_decompression_stays_bounded_for_a_gzip_bomb(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.gz"
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    with bomb.open("wb") as handle:
        for _ in range(200):
            handle.write(compressor.compress(b"\0" * (1 << 20)))
        handle.write(compressor.flush())
    assert bomb.stat().st_size < 1 << 20
    total = 0
    for chunk in read_chunks(bomb, decompress=True):
        assert len(chunk) <= 1 << 20
        total += len(chunk)
    assert total == 200 << 20


def test_a_truncated_archive_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "t.gz"
    path.write_bytes(gzip.compress(b"x" * 100000)[:-20])
    with pytest.raises(BackupError, match="truncated"):
        b"".join(read_chunks(path, decompress=True))


def stack() -> Stack:
    return Stack.model_validate(
        {
            "version": 1,
            "stack": "shop",
            "settings": {"images": {"redis": "mirror/redis"}},
            "addons": {
                "db": {"type": "postgresql", "version": "16"},
                "cache": {"type": "redis", "version": "7"},
                "files": {"type": "minio"},
            },
            "apps": {
                "api": {"image": "api:1", "addons": ["db", "cache"]},
                "worker": {"image": "w:1", "addons": ["db"], "volumes": {"data": "/d"}},
            },
            "backups": {
                "db-nightly": {"addon": "db", "retention": 3, "verify": True},
                "worker-data": {"volume": {"app": "worker", "name": "data"}},
            },
        }
    )


def test_targets_name_containers_volumes_and_connected_apps() -> None:
    db = resolve(stack(), "db")
    assert (db.job, db.container, db.volume, db.apps) == (
        "db-nightly", "shop-db", "shop-db-data", ("api", "worker"),
    )  # fmt: skip
    assert db.extension == "pgdump" and not db.compressed and db.verify
    assert db.policy is not None and db.policy.keep_last == 3
    cache = resolve(stack(), "cache")
    assert cache.job == "" and cache.policy is None and cache.extension == "rdb.gz"
    assert cache.image == "mirror/redis:7" and cache.handling.offline_restore
    files = resolve(stack(), "files")
    assert files.tar and files.extension == "tar.gz" and files.mount == "/volume"
    volume = resolve(stack(), "worker-data")
    assert (volume.kind, volume.source, volume.volume, volume.apps) == (
        "volume", "worker-data", "shop-worker-data", ("worker",),
    )  # fmt: skip
    assert volume.helper_image == "busybox:1.36"
    with pytest.raises(BackupError, match="no backup or add-on named 'api'"):
        resolve(stack(), "api")
