"""Dependency order: levels of workloads that may start together, cycles refused."""

from __future__ import annotations

import pytest

from reconciler.desired.ordering import dependency_levels, dependency_order
from reconciler.state.errors import PlanError


def test_empty() -> None:
    assert dependency_levels({}) == []
    assert dependency_order({}) == []


def test_independent_names_share_one_sorted_level() -> None:
    assert dependency_levels({"web": [], "api": [], "cron": []}) == [["api", "cron", "web"]]


def test_levels_follow_dependencies() -> None:
    graph = {"web": ["api", "cache"], "api": ["db"], "cache": [], "db": [], "cron": ["db"]}
    assert dependency_levels(graph) == [["cache", "db"], ["api", "cron"], ["web"]]
    assert dependency_order(graph) == ["cache", "db", "api", "cron", "web"]


def test_diamond() -> None:
    graph = {"d": ["b", "c"], "b": ["a"], "c": ["a"], "a": []}
    assert dependency_levels(graph) == [["a"], ["b", "c"], ["d"]]


def test_every_name_depends_only_on_earlier_levels() -> None:
    graph = {f"n{i}": [f"n{j}" for j in range(i) if (i + j) % 3 == 0] for i in range(30)}
    seen: set[str] = set()
    for level in dependency_levels(graph):
        for name in level:
            assert set(graph[name]) <= seen
        seen.update(level)
    assert seen == set(graph)


def test_order_does_not_depend_on_input_order() -> None:
    graph = {"web": ["api"], "api": [], "cron": [], "worker": ["api"]}
    reversed_graph = dict(reversed(list(graph.items())))
    assert dependency_levels(graph) == dependency_levels(reversed_graph)


def test_unknown_references_are_ignored() -> None:
    # The manifests reject dangling references; ordering just skips them.
    assert dependency_levels({"web": ["ghost"], "api": []}) == [["api", "web"]]


def test_accepts_any_iterables() -> None:
    assert dependency_order({"b": ("a",), "a": iter(())}) == ["a", "b"]


@pytest.mark.parametrize(
    ("graph", "stuck"),
    [
        ({"a": ["a"]}, "a"),
        ({"a": ["b"], "b": ["a"]}, "a, b"),
        ({"a": ["b"], "b": ["c"], "c": ["a"], "d": []}, "a, b, c"),
    ],
)
def test_cycle_raises_plan_error(graph: dict[str, list[str]], stuck: str) -> None:
    with pytest.raises(PlanError) as caught:
        dependency_levels(graph)
    assert str(caught.value) == f"dependency cycle among: {stuck}"


def test_cycle_message_names_the_stuck_workloads() -> None:
    with pytest.raises(PlanError) as caught:
        dependency_order({"a": ["b"], "b": ["a"], "ok": []})
    assert str(caught.value) == "dependency cycle among: a, b"
    assert not caught.value.temporary
