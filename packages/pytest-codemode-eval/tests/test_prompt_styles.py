"""The suite decides how the catalog is shown: full stubs, compact signatures or the minimal
instructions, with or without execute_code as a native tool; the renderer hash follows."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_codemode_eval.errors import SuiteError
from pytest_codemode_eval.prompt import offered_tools, render_system_prompt, renderer_fingerprint
from pytest_codemode_eval.suite import load_suite

EVALSUITE = Path(__file__).resolve().parents[3] / "evalsuite"


def suite_with(tmp_path: Path, extra: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name in ("catalog.py", "targets.toml"):
        (tmp_path / name).write_text((EVALSUITE / name).read_text())
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "git.cases.toml").write_text(
        (EVALSUITE / "cases/git.cases.toml").read_text()
    )
    text = (
        (EVALSUITE / "suite.toml").read_text().replace("[categories]", f"{extra}\n\n[categories]")
    )
    (tmp_path / "suite.toml").write_text(text)
    return tmp_path / "suite.toml"


def test_full_style_shows_docstrings_result_types_and_the_native_tool() -> None:
    catalog = load_suite(EVALSUITE / "suite.toml").catalog
    prompt = render_system_prompt(catalog)
    assert '"""List the most recent commits."""' in prompt
    assert "class Location(TypedDict)" in prompt
    assert [tool["function"]["name"] for tool in offered_tools(catalog)] == ["execute_code"]


def test_compact_and_minimal_styles(tmp_path: Path) -> None:
    full = load_suite(EVALSUITE / "suite.toml").catalog
    compact = load_suite(suite_with(tmp_path / "c", 'prompt_style = "compact"')).catalog
    minimal = load_suite(
        suite_with(tmp_path / "m", 'prompt_style = "minimal"\nnative_tools = false')
    ).catalog
    compact_prompt, minimal_prompt = render_system_prompt(compact), render_system_prompt(minimal)
    assert "def git_log(path: str, count: int = 10) -> list[Commit]" in compact_prompt
    assert '"""' not in compact_prompt
    assert "git_log" not in minimal_prompt
    assert "execute_code(code: str)" in minimal_prompt
    assert len(minimal_prompt) < len(compact_prompt) < len(render_system_prompt(full))
    assert offered_tools(minimal) == []
    hashes = {renderer_fingerprint(c) for c in (full, compact, minimal)}
    assert len(hashes) == 3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('prompt_style = "tiny"', "prompt_style: expected one of full, compact, minimal"),
        ('native_tools = "no"', "native_tools: expected true or false"),
    ],
)
def test_bad_presentation_settings_name_the_field(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(SuiteError, match=message):
        load_suite(suite_with(tmp_path, extra))
