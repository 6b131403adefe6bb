"""Backup files on disk: streamed in under a temporary name, compressed and hashed on the fly.

A backup is written as `<name>.partial`, fsynced, then renamed, so a file with the final name
is always whole; the sha256 is of the bytes on disk, so `sha256sum` agrees with the record.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

from reconciler.state.errors import BackupError
from reconciler.state.faults import crash_point

PARTIAL = ".partial"
#: gzip level: 3 keeps up with a dump stream on one core and still shrinks SQL about 5x.
GZIP_LEVEL = 3
READ_BYTES = 1 << 20
#: wbits for the gzip container (16 + 15): files open with `gunzip`/`zcat` too.
GZIP_WBITS = 31


def backup_dir(state_dir: Path, stack: str, source: str) -> Path:
    return state_dir / "backups" / stack / source


class StreamWriter:
    """Chunks in, one compressed and checksummed file out; never more than a chunk in memory."""

    def __init__(self, final: Path, compress: bool) -> None:
        self.final = final
        self.partial = final.with_name(final.name + PARTIAL)
        self._compressor = (
            zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, GZIP_WBITS) if compress else None
        )
        self._hash = hashlib.sha256()
        self._size = 0
        #: Bytes the dump produced, before compression: zero means it wrote nothing at all.
        self.raw_bytes = 0
        final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # O_EXCL: two runs can never write the same file; 0600: dumps hold the data itself.
        fd = os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = os.fdopen(fd, "wb", buffering=READ_BYTES)

    def write(self, chunk: bytes) -> None:
        crash_point("backup.write")
        self.raw_bytes += len(chunk)
        data = self._compressor.compress(chunk) if self._compressor else chunk
        if data:
            self._emit(data)

    def _emit(self, data: bytes) -> None:
        self._file.write(data)
        self._hash.update(data)
        self._size += len(data)

    def commit(self) -> tuple[int, str]:
        """Flush, fsync, rename into place; return (size, sha256) of the file."""
        if self._compressor:
            self._emit(self._compressor.flush())
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.partial, self.final)
        fsync_dir(self.final.parent)
        return self._size, self._hash.hexdigest()

    def discard(self) -> None:
        """Remove the partial file; safe to call after a failure at any point."""
        if not self._file.closed:
            # A full disk fails the final flush too; the file goes either way.
            with contextlib.suppress(OSError):
                self._file.close()
        self.partial.unlink(missing_ok=True)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(READ_BYTES):
            digest.update(block)
    return digest.hexdigest()


def read_chunks(path: Path, decompress: bool) -> Iterator[bytes]:
    """The file's content (decompressed when asked) in bounded chunks, even for a gzip bomb."""
    inflater = zlib.decompressobj(GZIP_WBITS) if decompress else None
    with path.open("rb") as handle:
        while block := handle.read(READ_BYTES):
            if inflater is None:
                yield block
                continue
            data = inflater.decompress(block, READ_BYTES)
            while data:
                yield data
                data = inflater.decompress(inflater.unconsumed_tail, READ_BYTES)
    if inflater is not None:
        tail = inflater.flush()
        if tail:
            yield tail
        if not inflater.eof:
            raise BackupError(f"{path.name} is truncated: the compressed stream has no end")
