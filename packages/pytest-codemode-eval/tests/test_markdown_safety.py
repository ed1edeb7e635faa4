"""Model text cannot break the markdown report or the GitHub step summary (the same markdown).

Notes quote model output and prompts are shown in the table: `<script>`, `</details>`, `|`,
backtick fences and newlines in them went raw into report.md.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from pytest_codemode_eval.aggregate import CaseResult, Summary, summarize
from pytest_codemode_eval.report import render_markdown
from pytest_codemode_eval.safe_text import json_text, markdown_code, markdown_text
from pytest_codemode_eval.targets import Targets
from pytest_codemode_eval.verdicts import Verdict

HOSTILE = "<script>alert(1)</script> </details> a|b ```python\nx``` y\\ &amp; \u2028z \ud800"


def hostile_summary(**identity: object) -> Summary:
    case = CaseResult(
        id="git-01",
        category="git",
        prompt=f"Prompt {HOSTILE}",
        score=0.0,
        verdict=Verdict.WRONG_TOOL,
        note=f"Wrong tool: unknown tool {HOSTILE}",
        seconds=1.0,
        finish="stop",
        output=HOSTILE,
    )
    return summarize([case], ["git"], Targets(), ["git-01"], {"backend": "replay", **identity})


def table_row(markdown: str, case_id: str) -> str:
    (row,) = [line for line in markdown.splitlines() if line.startswith(f"| {case_id} |")]
    return row


def unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)(?:\\\\)*\|", line))


def test_hostile_note_and_prompt_stay_text() -> None:
    markdown = render_markdown(hostile_summary())
    for raw in ("<script>", "</script>", "</details>", "```", "\u2028", "\ud800"):
        assert raw not in markdown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown
    assert "&lt;/details&gt;" in markdown
    assert "&amp;amp;" in markdown  # an entity in the output shows as the entity's text


def test_hostile_text_keeps_the_table_row_whole() -> None:
    row = table_row(render_markdown(hostile_summary()), "git-01")
    assert unescaped_pipes(row) == 6  # | id | query | score | time | notes |
    assert "`" not in row.replace("\\`", "")


def test_hostile_model_path_and_warnings_are_escaped() -> None:
    summary = hostile_summary(
        model={"path": "m`x\n<script>", "fingerprint": "f`"}, warnings=[f"w {HOSTILE}"]
    )
    lines = render_markdown(summary).splitlines()
    header = next(line for line in lines if line.startswith("**Model:**"))
    assert header.startswith("**Model:** ``m`x <script>`` (`` f` ``)")  # code spans: literal
    warning = next(line for line in lines if "WARNING" in line)
    assert "&lt;script&gt;" in warning
    assert "<script>" not in warning


@pytest.mark.slow
def test_step_summary_is_the_escaped_markdown(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: a replayed output full of markup, then the GITHUB_STEP_SUMMARY file."""
    root = Path(__file__).resolve().parents[3] / "evalsuite"
    shutil.copytree(root, pytester.path / "evalsuite", ignore=shutil.ignore_patterns("workspace"))
    pytester.makeini("[pytest]\n")
    output = '<tool_call>{"name": "<script>alert(1)</script>|`x`", "arguments": {}}</tool_call>'
    (pytester.path / "in.jsonl").write_text(json_text({"id": "git-01", "output": output}) + "\n")
    summary_file = pytester.path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary_file))
    pytester.runpytest(
        "evalsuite", "-k", "git-01", "--codemode-backend=replay", "--codemode-replay=in.jsonl",
        "--codemode-report=r.md",
    )  # fmt: skip
    for path in (summary_file, pytester.path / "r.md"):
        markdown = path.read_text(encoding="utf-8")
        assert "<script>" not in markdown
        assert "&lt;script&gt;alert(1)&lt;/script&gt;\\|\\`x\\`" in markdown
        assert unescaped_pipes(table_row(markdown, "git-01")) == 6


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("<b>x</b>", "&lt;b&gt;x&lt;/b&gt;"),
        ("a|b", "a\\|b"),
        ("`code`", "\\`code\\`"),
        ("a\nb\r\nc\u2028d", "a b c d"),
        ("trailing\\", "trailing\\\\"),
        ("&lt;", "&amp;lt;"),
        ("\udfff", "\\\\udfff"),
    ],
)
def test_markdown_text(text: str, shown: str) -> None:
    assert markdown_text(text) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [("a", "`a`"), ("a`b", "``a`b``"), ("`a", "`` `a ``"), ("a``b\nc", "```a``b c```")],
)
def test_markdown_code(text: str, shown: str) -> None:
    assert markdown_code(text) == shown
