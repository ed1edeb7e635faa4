"""The routing confusion matrix: rows expected, columns what the output did, chains apart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_codemode_eval.aggregate import CaseResult
from pytest_codemode_eval.confusion import (
    NO_TOOL,
    UNKNOWN_TOOL,
    confusion_matrix,
    render_confusion_markdown,
)
from pytest_codemode_eval.pictures import draw_confusion
from pytest_codemode_eval.verdicts import Verdict

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def sample(
    case_id: str, expected: tuple[str, ...], verdict: Verdict, called: tuple[str, ...] = ()
) -> CaseResult:
    score = 1.0 if verdict is Verdict.CODE_MODE else 0.0
    return CaseResult(
        case_id, "c", "p", score, verdict, "", 1.0, "stop", tools_called=called, expected=expected
    )


RESULTS = [
    sample("a", ("git_log",), Verdict.CODE_MODE, ("git_log",)),
    sample("a", ("git_log",), Verdict.WRONG_TOOL, ("git_status", "git_log")),  # a repeat
    sample("b", ("git_log",), Verdict.TIMEOUT, ("execute_code",)),
    sample("c", ("hover",), Verdict.PROSE),
    sample("d", ("hover",), Verdict.WRONG_TOOL),  # an unknown tool: nothing in the catalog
    sample("e", (), Verdict.PROSE),  # a no-tool case answered in prose
    sample("f", ("read_file", "ruff_check"), Verdict.PARTIAL_CHAIN, ("read_file",)),
    sample("g", ("read_file", "ruff_check"), Verdict.CODE_MODE, ("read_file", "ruff_check")),
]


def test_rows_are_expected_tools_and_columns_the_first_tool_or_outcome() -> None:
    matrix = confusion_matrix(RESULTS)
    assert matrix.rows == ("git_log", "hover", NO_TOOL)
    assert matrix.columns == ("git_log", "git_status", "prose", "timeout", UNKNOWN_TOOL)
    assert matrix.count("git_log", "git_log") == 1
    assert matrix.count("git_log", "git_status") == 1  # the first tool called decides
    assert matrix.count("git_log", "timeout") == 1  # a timeout is a timeout, calls or not
    assert matrix.count("hover", "prose") == 1
    assert matrix.count("hover", UNKNOWN_TOOL) == 1
    assert matrix.count(NO_TOOL, "prose") == 1
    assert matrix.chains == {"partial_chain": 1, "code_mode": 1}


def test_markdown_shows_non_empty_rows_and_columns_with_the_diagonal_in_bold() -> None:
    markdown = render_confusion_markdown(confusion_matrix(RESULTS))
    assert "| expected \\ called | git_log | git_status | prose | timeout | unknown tool |" in (
        markdown
    )
    assert "| git_log | **1** | 1 | · | 1 | · |" in markdown
    assert "**Chains** (2 samples): code_mode 1, partial_chain 1" in markdown


def test_the_matrix_travels_as_json() -> None:
    document = json.loads(json.dumps(confusion_matrix(RESULTS).to_dict()))
    assert document["counts"][0] == [1, 1, 0, 1, 0]


@pytest.mark.slow
def test_the_heatmap_is_a_png(tmp_path: Path) -> None:
    path = tmp_path / "confusion.png"
    assert draw_confusion(confusion_matrix(RESULTS), path)
    assert path.read_bytes().startswith(PNG_SIGNATURE)
