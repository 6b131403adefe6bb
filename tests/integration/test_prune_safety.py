"""Prune safety as a property: across random sequences of good commits, empty trees,
unparsable files and fetch failures, nothing declared in the last good revision is deleted.

Real git (a bare repo in a temp dir), the real Controller and Engine, the real engine.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.daemon.controller import Controller
from reconciler.engine import Engine, EngineSettings
from reconciler.gitsync.repo import GitMirror, GitSource
from reconciler.observed.docker_adapter import DockerSdkPort
from reconciler.store.db import Database

from .support import BUSYBOX_1, containers, engine_skip_reason, git, new_stack_name, purge_stack

pytestmark = [pytest.mark.docker]
if reason := engine_skip_reason():
    pytestmark.append(pytest.mark.skip(reason=reason))

POOL = ("alpha", "beta", "gamma", "delta")
HOLD = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]

good = st.builds(
    lambda apps: ("good", tuple(sorted(apps))), st.sets(st.sampled_from(POOL), min_size=1)
)
step = st.one_of(
    good,
    st.just(("empty", ())),
    st.just(("unparsable", ())),
    st.just(("fetch-failure", ())),
)


class Repo:
    def __init__(self, root: Path, stack: str) -> None:
        self.stack = stack
        self.origin = root / "origin.git"
        self.hidden = root / "origin.hidden"
        self.work = root / "work"
        git(root, "init", "-q", "--bare", "-b", "main", str(self.origin))
        self.work.mkdir()
        git(self.work, "init", "-q", "-b", "main")
        git(self.work, "remote", "add", "origin", str(self.origin))

    def commit(self, text: str) -> None:
        (self.work / "stack.yaml").write_text(text)
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "--allow-empty", "-m", "step")
        git(self.work, "push", "-q", "origin", "main")

    def stack_yaml(self, apps: tuple[str, ...]) -> str:
        doc: dict[str, Any] = {"version": 1, "stack": self.stack, "apps": {}}
        for name in apps:
            doc["apps"][name] = {"image": BUSYBOX_1, "command": HOLD}
        return json.dumps(doc)


def _declared_running(stack: str) -> set[str]:
    return {c["Labels"]["io.reconciler.name"] for c in containers(stack) if c["State"] == "running"}


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(step, min_size=2, max_size=5))
def test_nothing_declared_in_the_last_good_revision_is_deleted(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, tuple[str, ...]]]
) -> None:
    root = tmp_path_factory.mktemp("prune")
    stack = new_stack_name()
    repo = Repo(root, stack)
    repo.commit(repo.stack_yaml(("alpha", "beta")))
    engine = Engine(DockerSdkPort(), settings=EngineSettings(state_dir=root / "state"))
    mirror = GitMirror(GitSource(url=str(repo.origin)), root / "state" / "repo")
    controller = Controller(engine, mirror, Database(root / "state" / "state.db"))
    try:
        assert controller.run_pass("startup").status == "succeeded"
        last_good = {"alpha", "beta"}
        for kind, apps in steps:
            if kind == "good":
                repo.commit(repo.stack_yaml(apps))
            elif kind == "empty":
                repo.commit(repo.stack_yaml(()))
            elif kind == "unparsable":
                repo.commit("version: 1\nstack: [unclosed\n")
            else:
                shutil.move(repo.origin, repo.hidden)
            result = controller.run_pass("poll")
            if kind == "fetch-failure":
                shutil.move(repo.hidden, repo.origin)
            if result.status in ("succeeded", "noop") and kind == "good":
                last_good = set(apps)
            running = _declared_running(stack)
            missing = last_good - running
            assert not missing, f"after {kind} {apps}: {sorted(missing)} of the last good are gone"
    finally:
        purge_stack(stack)
