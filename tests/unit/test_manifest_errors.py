"""Manifest errors: every broken input is refused whole, each issue at its file, line and column.

The golden cases live in tests/golden/errors/<case>/ (see the README there); UPDATE_GOLDEN=1
rewrites their expected.txt.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reconciler.manifests.loader import load_stack
from reconciler.manifests.yamlread import MAX_FILE_BYTES, parse_text
from reconciler.state.errors import ManifestErrors

from .golden import GOLDEN, case_dirs, check_golden

CASES = case_dirs("errors")

#: pydantic's generic wording; every message users see should say more than this.
GENERIC_PHRASES = (
    "Input should be",
    "String should match pattern",
    "Value error",
    "Field required",
)


def render_errors(path: Path) -> str:
    with pytest.raises(ManifestErrors) as caught:
        load_stack(path)
    return caught.value.render() + "\n"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_golden_errors(case: Path) -> None:
    check_golden(case / "expected.txt", render_errors(case))


def test_golden_cases_cover_the_required_errors() -> None:
    names = {case.name for case in CASES}
    required = {
        "unknown-key",
        "wrong-type",
        "bad-name",
        "missing-required",
        "yaml-syntax",
        "duplicate-key",
        "duplicate-app-across-include",
        "include-outside",
        "include-symlink-outside",
        "dangling-depends-on",
        "dangling-addon",
        "dependency-cycle",
        "replicas-fixed-port",
        "bad-publish",
        "bad-duration",
        "http-healthcheck-no-port",
        "alias-bomb",
        "not-a-mapping",
        "reserved-label",
        "unknown-engine",
        "backup-references",
    }
    assert required <= names, f"missing golden cases: {sorted(required - names)}"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_messages_are_specific(case: Path) -> None:
    expected = (case / "expected.txt").read_text(encoding="utf-8")
    assert expected.strip(), "a golden error case must produce at least one error"
    for line in expected.splitlines():
        assert not any(phrase in line for phrase in GENERIC_PHRASES), line
        # FILE:LINE:COL: ... with a file relative to the case directory.
        file, line_no, column, rest = line.split(":", 3)
        assert not Path(file).is_absolute() and (case / file).exists(), line
        assert int(line_no) >= 1 and int(column) >= 1 and rest.startswith(" "), line


def test_duplicate_across_files_names_both_places() -> None:
    text = render_errors(GOLDEN / "errors" / "duplicate-app-across-include")
    assert (
        text == "services/web.yaml:4:3: apps.web: duplicate name, also defined at stack.yaml:5:3\n"
    )


def test_alias_bomb_fails_fast() -> None:
    started = time.perf_counter()
    text = render_errors(GOLDEN / "errors" / "alias-bomb")
    elapsed = time.perf_counter() - started
    assert "alias bomb" in text
    assert elapsed < 0.5, f"refusing an alias bomb took {elapsed:.2f}s"


def test_wider_alias_bomb_is_measured_not_walked() -> None:
    # 12 levels of 40 aliases: 40**12 values, far beyond anything a walk could finish.
    lines = ["a0: &a0 [" + ", ".join(["lol"] * 40) + "]"]
    for level in range(1, 12):
        aliases = ", ".join([f"*a{level - 1}"] * 40)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    started = time.perf_counter()
    parsed, issues = parse_text("\n".join(lines) + "\n", "stack.yaml")
    assert time.perf_counter() - started < 0.5
    assert parsed is None
    assert len(issues) == 1
    count = issues[0].message.removeprefix("YAML aliases expand this document to ").split()[0]
    assert int(count.replace(",", "")) > 40**12


def test_anchors_and_merge_keys_within_budget_load() -> None:
    parsed, issues = parse_text(
        "apps:\n"
        "  web:\n"
        "    env: &common {A: '1', B: '2'}\n"
        "  api:\n"
        "    env:\n"
        "      <<: *common\n"
        "      C: '3'\n",
        "stack.yaml",
    )
    assert issues == []
    assert parsed is not None
    assert parsed.data["apps"]["api"]["env"] == {"C": "3", "A": "1", "B": "2"}
    # Merged keys have no position of their own: they resolve to their mapping's position.
    assert parsed.position(("apps", "api", "env", "A")) == parsed.position(("apps", "api", "env"))
    assert parsed.position(("apps", "api", "env", "C")) == (7, 10)


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    filler = "# padding\n" * (MAX_FILE_BYTES // 10 + 1)
    write(tmp_path, {"stack.yaml": "version: 1\nstack: shop\n" + filler})
    size = (tmp_path / "stack.yaml").stat().st_size
    assert render_errors(tmp_path) == (
        f"stack.yaml:1:1: file is {size} bytes; the limit is {MAX_FILE_BYTES}\n"
    )


def test_included_file_over_the_size_limit(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "stack.yaml": "version: 1\nstack: shop\ninclude: [big.yaml]\n",
            "big.yaml": "apps: {}\n" + "#" * MAX_FILE_BYTES + "\n",
        },
    )
    size = (tmp_path / "big.yaml").stat().st_size
    assert render_errors(tmp_path) == (
        f"big.yaml:1:1: file is {size} bytes; the limit is {MAX_FILE_BYTES}\n"
    )


def test_deep_nesting_is_an_error_not_a_crash(tmp_path: Path) -> None:
    write(tmp_path, {"stack.yaml": "version: 1\nstack: shop\nx:\n" + "- " * 2000 + "deep\n"})
    # Refused before parsing: towers like this cost the parser seconds per kilobyte.
    assert render_errors(tmp_path) == (
        "stack.yaml:4:1: indented more than 256 columns; refusing to read it\n"
    )


def test_bracket_tower_is_refused_before_parsing(tmp_path: Path) -> None:
    write(tmp_path, {"stack.yaml": "version: 1\nstack: shop\nx: " + "[" * 5000 + "]" * 5000})
    assert render_errors(tmp_path) == (
        "stack.yaml:3:1: brackets are nested more than 64 deep; refusing to read it\n"
    )


def test_missing_stack_file(tmp_path: Path) -> None:
    text = render_errors(tmp_path)
    assert text == f"{tmp_path / 'stack.yaml'}:1:1: no such file (expected a stack.yaml)\n"


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "stack.yaml").write_bytes(b"version: 1\nstack: \xff\xfe\n")
    assert render_errors(tmp_path).startswith("stack.yaml:1:1: not UTF-8 text: ")


def test_valid_stack_with_includes_merges_apps_from_all_files(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "stack.yaml": (
                "version: 1\n"
                "stack: shop\n"
                "include: ['services/*.yaml', 'more/**/*.yaml']\n"
                "apps:\n"
                "  web:\n"
                "    image: ghcr.io/acme/web:1\n"
                "    dependsOn: [worker, mailer]\n"
            ),
            "services/worker.yaml": "apps:\n  worker:\n    image: ghcr.io/acme/worker:1\n",
            "services/notes.txt": "not yaml, not matched by the glob",
            "more/deep/mailer.yaml": (
                "apps:\n  mailer:\n    image: ghcr.io/acme/mailer:1\n    dependsOn: [worker]\n"
            ),
        },
    )
    loaded = load_stack(tmp_path)
    assert sorted(loaded.stack.apps) == ["mailer", "web", "worker"]
    assert loaded.files == ("stack.yaml", "services/worker.yaml", "more/deep/mailer.yaml")
    assert {name: source.file for (_, name), source in loaded.origins.items()} == {
        "web": "stack.yaml",
        "worker": "services/worker.yaml",
        "mailer": "more/deep/mailer.yaml",
    }
    assert loaded.stack.apps["mailer"].depends_on == ["worker"]
    # The file path form loads the same stack as its directory.
    assert load_stack(tmp_path / "stack.yaml").stack == loaded.stack


def test_a_root_file_under_another_name_is_not_included_by_its_own_glob(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "prod.yaml": "version: 1\nstack: shop\ninclude: ['*.yaml']\n",
            "apps.yaml": "apps:\n  web:\n    image: ghcr.io/acme/web:1\n",
        },
    )
    loaded = load_stack(tmp_path / "prod.yaml")
    assert loaded.files == ("prod.yaml", "apps.yaml")
    assert list(loaded.stack.apps) == ["web"]


def test_yaml_scalars_become_the_strings_containers_see(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "stack.yaml": (
                "version: 1\n"
                "stack: shop\n"
                "apps:\n"
                "  web:\n"
                "    image: ghcr.io/acme/web:1\n"
                "    env: {PORT: 8080, DEBUG: false, RATIO: 0.5}\n"
                "    labels: {1: one, 2.5: two and a half}\n"
                "    resources: {cpu: 1, memory: 1073741824}\n"
            )
        },
    )
    app = load_stack(tmp_path).stack.apps["web"]
    assert app.env == {"PORT": "8080", "DEBUG": "false", "RATIO": "0.5"}
    assert app.labels == {"1": "one", "2.5": "two and a half"}
    assert (app.resources.cpu, app.resources.memory) == ("1", "1073741824")


def test_errors_are_sorted_and_counted(tmp_path: Path) -> None:
    with pytest.raises(ManifestErrors) as caught:
        load_stack(GOLDEN / "errors" / "root-and-include-broken")
    issues = caught.value.issues
    assert [i.file for i in issues] == ["services/worker.yaml", "stack.yaml"]
    assert str(caught.value) == "2 errors in manifests"
