"""The libyaml fast path reads every document exactly as ruamel does, or hands it over."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.manifests.fastyaml import parse_fast
from reconciler.manifests.yamlread import parse_text

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted(
    [
        ROOT / "stack.yaml",
        *ROOT.glob("services/*.yaml"),
        *ROOT.glob("tests/golden/**/*.yaml"),
        *ROOT.glob("tests/corpus/bad/*/stack.yaml"),
    ]
)

SAMPLES = {
    "yaml-1.2-booleans": "a: yes\nb: on\nc: true\nd: False\ne: ~\nf: null\ng: ''\n",
    "numbers": "a: 017\nb: 0o17\nc: 0x1f\nd: 1.5e3\ne: .inf\nf: -.INF\ng: 1_000\nh: +12\n",
    "quoted": "a: '2024-01-01'\nb: \"yes\"\nc: '017'\n",
    "flow": "apps: {web: {image: 'x:1', publish: ['127.0.0.1:80:80', 8080]}}\n",
    "non-text keys": "1: one\ntrue: yes\n",
    "aliases": "a: &x {k: [1, 2]}\nb: *x\nc: *x\n",
}


def _same(text: str) -> None:
    fast = parse_fast(text, "f.yaml")
    slow, issues = parse_text(text, "f.yaml", fast=False)
    if fast is None:
        return  # handed over: ruamel decides, so the result is ruamel's by construction
    assert slow is not None and not issues
    assert fast.data == slow.data
    assert fast.values == slow.values
    assert fast.keys == slow.keys


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_repository_documents_read_the_same(path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        pytest.skip("not UTF-8: refused before either parser runs")
    _same(text)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_samples_read_the_same(name: str) -> None:
    _same(SAMPLES[name])


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\na: 2\n",  # duplicate key: ruamel words the error
        "a: &x {k: 1}\nb:\n  <<: *x\n",  # merge key
        "a: !custom thing\n",  # explicit tag
        "when: 2024-01-01\n",  # ruamel reads a date
        "a: [unclosed\n",  # syntax error
    ],
)
def test_unusual_documents_are_handed_to_ruamel(text: str) -> None:
    assert parse_fast(text, "f.yaml") is None


def test_demo_stack_takes_the_fast_path() -> None:
    assert parse_fast((ROOT / "stack.yaml").read_text(), "stack.yaml") is not None
