"""Crash points do nothing unless named, and kill the process for real when they are."""

from __future__ import annotations

import subprocess
import sys

import pytest

from reconciler.state import faults

SCRIPT = (
    "from reconciler.state.faults import crash_point\n"
    "for i in range(3):\n"
    "    print(i, flush=True)\n"
    "    crash_point('loop')\n"
)


def run(env_value: str | None) -> subprocess.CompletedProcess[str]:
    env = {} if env_value is None else {faults.ENV: env_value}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, check=False
    )


def test_unset_or_other_points_do_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(faults.ENV, raising=False)
    faults.crash_point("anything")
    assert run(None).stdout.split() == ["0", "1", "2"]
    assert run("elsewhere").stdout.split() == ["0", "1", "2"]


@pytest.mark.parametrize(("value", "printed"), [("loop", ["0"]), ("loop:2", ["0", "1"])])
def test_the_named_point_sigkills_on_the_nth_hit(value: str, printed: list[str]) -> None:
    result = run(value)
    assert result.returncode == -9
    assert result.stdout.split() == printed
