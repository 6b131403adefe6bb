"""Helpers shared by the golden tests: where the cases live and how to refresh them."""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def updating() -> bool:
    """UPDATE_GOLDEN=1 rewrites expected files instead of comparing against them."""
    return os.environ.get("UPDATE_GOLDEN", "") not in ("", "0")


def case_dirs(kind: str) -> list[Path]:
    return sorted(p for p in (GOLDEN / kind).iterdir() if p.is_dir())


def check_golden(expected_file: Path, actual: str) -> None:
    """Compare `actual` with the committed file, or rewrite it under UPDATE_GOLDEN=1."""
    if updating():
        expected_file.write_text(actual, encoding="utf-8")
        return
    assert expected_file.exists(), f"{expected_file} is missing; run with UPDATE_GOLDEN=1"
    expected = expected_file.read_text(encoding="utf-8")
    assert actual == expected, (
        f"{expected_file} differs (after reviewing the change, refresh with UPDATE_GOLDEN=1)"
    )
