"""The checks that catch a dump command which exited 0 without producing a dump."""

from __future__ import annotations

import pytest

from reconciler.backups.outputcheck import DumpShape, HeadProbe, reported_error
from reconciler.state.errors import BackupError

SAME = "the whole stderr"


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        ("", None),
        ("pg_dump: warning: there are circular foreign-key constraints", None),
        ("tar: ./sock: socket ignored", None),
        ("mysqldump: Got error: 1049: Unknown database 'x'", SAME),
        ("one\nERROR:  permission denied for t\ntwo", "ERROR:  permission denied for t"),
        ("FATAL: the database system is shutting down", SAME),
        ("no errors here: 0 errors", None),
    ],
)  # fmt: skip
def test_error_lines_on_stderr(stderr: str, expected: str | None) -> None:
    assert reported_error(stderr) == (stderr if expected is SAME else expected)


def test_the_head_is_kept_across_chunks_and_everything_passes_through() -> None:
    seen: list[bytes] = []
    probe = HeadProbe(seen.append, DumpShape(b"ustar", 257))
    for chunk in (b"a" * 200, b"b" * 57, b"ustar  \0", b"c" * 1000):
        probe.write(chunk)
    probe.check("tar")
    assert b"".join(seen) == b"a" * 200 + b"b" * 57 + b"ustar  \0" + b"c" * 1000


def test_output_not_starting_like_a_dump_is_refused_with_what_it_began_with() -> None:
    probe = HeadProbe(lambda _: None, DumpShape(b"PGDMP"))
    probe.write(b"pg_dump: error: connection to server failed\n\x00\x01")
    with pytest.raises(BackupError, match=r"began: 'pg_dump: error: connection to server failed"):
        probe.check("the dump command")


def test_engines_without_a_magic_accept_any_output() -> None:
    probe = HeadProbe(lambda _: None, DumpShape())
    probe.write(b"anything")
    probe.check("x")


def test_a_windowed_magic_may_follow_a_preamble() -> None:
    probe = HeadProbe(lambda _: None, DumpShape(b"-- MariaDB dump ", window=256))
    probe.write(b"/*M!999999\\- enable the sandbox mode */\n-- MariaDB dump 10.19\n")
    probe.check("mariadb-dump")
    late = HeadProbe(lambda _: None, DumpShape(b"-- MariaDB dump ", window=16))
    late.write(b"x" * 40 + b"-- MariaDB dump 10.19\n")
    with pytest.raises(BackupError):
        late.check("mariadb-dump")


@pytest.mark.parametrize("chunks", [[b"x" * 5000], [b"x" * 100] * 50, [b"x"] * 3000])
def test_a_dump_cut_short_lacks_its_trailer(chunks: list[bytes]) -> None:
    shape = DumpShape(b"x", trailer=b"\0" * 1024, trailer_window=1024)
    whole = HeadProbe(lambda _: None, shape)
    for chunk in [*chunks, b"\0" * 600, b"\0" * 424]:
        whole.write(chunk)
    whole.check("tar")
    cut = HeadProbe(lambda _: None, shape)
    for chunk in [*chunks, b"\0" * 600]:
        cut.write(chunk)
    with pytest.raises(BackupError, match="cut short"):
        cut.check("tar")
