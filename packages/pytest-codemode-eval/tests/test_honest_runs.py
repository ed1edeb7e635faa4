"""A run says what it could judge: the real error first when nothing gave a result, partial runs
judge only complete categories, and a gate that judged nothing fails."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_plugin import REAL

EVALSUITE = Path(__file__).resolve().parents[3] / "evalsuite"


@pytest.fixture
def real(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copytree(
        EVALSUITE, pytester.path / "evalsuite", ignore=shutil.ignore_patterns("workspace")
    )
    return pytester


def test_when_no_case_gives_a_result_the_backends_own_error_comes_first(
    real: pytest.Pytester,
) -> None:
    refused = ("--codemode-backend=openai", "--codemode-base-url=http://127.0.0.1:9/v1")
    result = real.runpytest("evalsuite", *refused, "--codemode-gate", "-k", "git")
    assert result.ret == 1
    text = result.stdout.str() + result.stderr.str()
    assert "unknown category" not in text
    line = next(o for o in result.outlines if o.startswith("codemode eval: no case produced"))
    assert "backend openai unavailable" in line
    assert "connection refused" in line


def test_a_gate_over_a_partial_category_judges_nothing_and_fails(real: pytest.Pytester) -> None:
    result = real.runpytest(*REAL, "-k", "git-01", "--codemode-gate", "--codemode-results=r.json")
    assert result.ret == 1
    assert "codemode gate: nothing was judged: no category with a target ran complete" in (
        result.outlines
    )
    assert not any("PASS" in line for line in result.outlines if line.startswith("Result:"))
    document = json.loads((real.path / "r.json").read_text("utf-8"))
    git = document["categories"][0]
    assert (git["name"], git["evaluated"], git["suite_n"], git["pass"]) == ("git", False, 3, None)
    assert document["overall"]["evaluated"] is False


@pytest.mark.slow
def test_a_marker_selection_judges_its_category_alone(real: pytest.Pytester) -> None:
    result = real.runpytest(*REAL, "-m", "cst", "--codemode-gate", "--codemode-report=r.md")
    assert result.ret == 1
    gate = [line for line in result.outlines if line.startswith("codemode gate:")]
    assert gate == ["codemode gate: cst 0.0% < target 90.0%"]  # overall is not judged
    markdown = (real.path / "r.md").read_text("utf-8")
    assert "overall not evaluated: 3 of 27 cases gave a result" in markdown
    assert "| **Overall** | **82.4%** | **≥80.0%** | **0.0 % [0.0–56.1]** | not evaluated |" in (
        markdown
    )


def test_replay_ids_that_are_not_in_the_suite_are_warned_about(real: pytest.Pytester) -> None:
    replay = real.path / "evalsuite/replays/phase40-8b.jsonl"
    with replay.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"id": "gti-01", "output": "typo in an id"}) + "\n")
    result = real.runpytest(*REAL, "-k", "git")
    assert any(
        line.startswith("WARNING: the replay file") and "not in the suite: gti-01" in line
        for line in result.outlines
    )
