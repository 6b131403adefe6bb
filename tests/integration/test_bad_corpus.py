"""The bad-input corpus: every invalid repository is refused whole, with exact located errors,
and Docker sees no call at all while a stack keeps running untouched.

Cases: tests/golden/errors/<case>/ (shared with the unit goldens) and tests/corpus/bad/<case>/,
each with the expected error lines in expected.txt (UPDATE_GOLDEN=1 rewrites them). One more
case, a file over the size limit, is generated at run time rather than committed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.engine import Engine, EngineSettings
from reconciler.observed.docker_adapter import DockerSdkPort
from reconciler.state.errors import ManifestErrors

from .support import BUSYBOX_1, SLEEP, apply_ok, container_ids, engine_skip_reason, write_stack

pytestmark = [pytest.mark.docker]
if reason := engine_skip_reason():
    pytestmark.append(pytest.mark.skip(reason=reason))

ROOT = Path(__file__).resolve().parents[1]
CASES = sorted(
    [p for p in (ROOT / "golden" / "errors").iterdir() if p.is_dir()]
    + [p for p in (ROOT / "corpus" / "bad").iterdir() if p.is_dir()]
)


class CountingPort:
    """Our own port around the real adapter, recording every call made through it."""

    def __init__(self) -> None:
        self.real = DockerSdkPort()
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.real, name)
        if not callable(attribute):
            return attribute

        def record(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return attribute(*args, **kwargs)

        return record


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    from .support import new_stack_name, purge_stack

    stack = new_stack_name()
    repo = write_stack(
        tmp_path_factory.mktemp("running"), stack, {"web": {"image": BUSYBOX_1, "command": SLEEP}}
    )
    apply_ok(repo)
    yield stack, container_ids(stack)
    purge_stack(stack)


def _refusal(case: Path, state: Path) -> tuple[str, list[str]]:
    port = CountingPort()
    engine = Engine(port, settings=EngineSettings(state_dir=state))  # type: ignore[arg-type,unused-ignore]
    with pytest.raises(ManifestErrors) as refused:
        engine.reconcile(case)
    return refused.value.render() + "\n", port.calls


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_repository_is_refused_without_touching_docker(
    case: Path, tmp_path: Path, running: tuple[str, dict[str, str]]
) -> None:
    text, calls = _refusal(case, tmp_path / "state")
    expected = case / "expected.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        expected.write_text(text)
    assert text == expected.read_text(), f"{case.name}: errors changed"
    assert calls == [], f"{case.name}: a refused repository must not reach Docker: {calls}"
    stack, ids = running
    assert container_ids(stack) == ids


def test_oversized_file_is_refused(tmp_path: Path, running: tuple[str, dict[str, str]]) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    filler = "# padding\n" * 110_000  # a little over 1 MiB of comments
    (repo / "stack.yaml").write_text(f"version: 1\nstack: shop\napps: {{}}\n{filler}")
    text, calls = _refusal(repo, tmp_path / "state")
    assert text.startswith("stack.yaml:1:1: file is ") and "the limit is 1048576" in text
    assert calls == []


def test_corpus_is_at_least_40_repositories() -> None:
    assert len(CASES) + 1 >= 40, len(CASES)
