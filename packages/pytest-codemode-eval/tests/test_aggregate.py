"""The aggregate reproduces the Phase 40 reference report (18.5% overall, every target failed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_codemode_eval.aggregate import CaseResult, Summary, summarize
from pytest_codemode_eval.backends.replay import read_replay
from pytest_codemode_eval.parse import parse_output
from pytest_codemode_eval.score import score_case
from pytest_codemode_eval.suite import Suite
from pytest_codemode_eval.targets import load_targets
from pytest_codemode_eval.verdicts import Verdict

# Per-prompt scores, verdicts and notes of the Phase 40 report (phase40-results.md).
PHASE40 = {
    "text-01": (0.0, Verdict.PROSE, "Prose response, no tool call"),
    "text-02": (0.5, Verdict.DIRECT_CALL, "Direct call, no execute_code"),
    "text-03": (0.5, Verdict.DIRECT_CALL, "Direct call, no execute_code"),
    "valid-01": (0.5, Verdict.DIRECT_CALL, "Direct call, no execute_code"),
    "valid-02": (0.5, Verdict.DIRECT_CALL, "Direct call, no execute_code"),
    "valid-03": (0.5, Verdict.DIRECT_CALL, "Direct call, no execute_code"),
    "lsp-01": (0.0, Verdict.TIMEOUT, "Timeout — prose then no call"),
    "lsp-02": (0.0, Verdict.TIMEOUT, "Timeout — prose then no call"),
    "lsp-03": (0.0, Verdict.TIMEOUT, "Timeout — prose then no call"),
    "lsp-04": (0.0, Verdict.WRONG_TOOL, "Wrong tool (workspace_symbols prose)"),
    "lsp-05": (0.5, Verdict.DIRECT_CALL, "Direct call eventually, very slow"),
    "git-01": (0.5, Verdict.DIRECT_CALL, "Direct call, no execute_code"),
    "git-02": (0.0, Verdict.PROSE, "Prose only, no tool call"),
    "git-03": (0.5, Verdict.DIRECT_CALL, "Direct call, no execute_code"),
    "cst-01": (0.0, Verdict.TIMEOUT, "Timeout"),
    "cst-02": (0.0, Verdict.TIMEOUT, "Timeout"),
    "cst-03": (0.0, Verdict.PROSE, "Prose only"),
    "dom-01": (0.5, Verdict.DIRECT_CALL, "Direct call, no execute_code"),
    "dom-02": (0.0, Verdict.TIMEOUT, "Timeout"),
    "dom-03": (0.0, Verdict.TIMEOUT, "Timeout"),
    "dom-04": (0.0, Verdict.TIMEOUT, "Timeout"),
    "dom-05": (0.0, Verdict.TIMEOUT, "Timeout"),
    "dom-06": (0.5, Verdict.DIRECT_CALL, "Direct call, no execute_code"),
    "dom-07": (0.0, Verdict.PROSE, "Prose only"),
    "dom-08": (0.0, Verdict.TIMEOUT, "Timeout"),
    "dom-09": (0.0, Verdict.TIMEOUT, "Timeout"),
    "multi-01": (0.0, Verdict.PROSE, "Prose only, no tool chain"),
}
REPORTED = {  # category -> percent in the report's table
    "text_tools": 33.3,
    "validation": 50.0,
    "git": 33.3,
    "cst": 0.0,
    "lsp": 10.0,
    "domain": 11.1,
    "multi_tool": 0.0,
    "overall": 18.5,
}
EVALSUITE = Path(__file__).resolve().parents[3] / "evalsuite"
REPLAY = EVALSUITE / "replays" / "phase40-8b.jsonl"


def summarise(suite: Suite, results: list[CaseResult]) -> Summary:
    categories = list(suite.categories)
    return summarize(
        results,
        categories,
        load_targets(EVALSUITE / "targets.toml", categories),
        case_order=[case.id for case in suite.cases],
    )


def reference_results(suite: Suite) -> list[CaseResult]:
    return [
        CaseResult(
            id=case.id,
            category=case.category,
            prompt=case.prompt,
            score=PHASE40[case.id][0],
            verdict=PHASE40[case.id][1],
            note=PHASE40[case.id][2],
            seconds=0.0,
            finish="stop",
        )
        for case in suite.cases
    ]


def test_reference_covers_the_suite(suite: Suite) -> None:
    assert {case.id for case in suite.cases} == set(PHASE40)


def test_phase40_report_is_reproduced(suite: Suite) -> None:
    summary = summarise(suite, reference_results(suite))
    shown = {row.name: round(row.score * 100, 1) for row in summary.rows}
    assert shown == REPORTED
    assert [row.name for row in summary.rows] == [*suite.categories, "overall"]
    assert {row.name: row.passed for row in summary.rows} == dict.fromkeys(REPORTED, False)
    assert [row.n for row in summary.categories] == [3, 3, 3, 3, 5, 9, 1]
    assert summary.overall.n == 27
    assert summary.missing == ()
    assert summary.distribution() == {0.5: 10, 0.0: 17}
    assert summary.baseline_name == "phase33b"
    assert summary.overall.baseline == pytest.approx(0.824)


def test_summary_does_not_depend_on_arrival_order(suite: Suite) -> None:
    results = reference_results(suite)
    assert summarise(suite, results[::-1]) == summarise(suite, results)


@pytest.mark.skipif(not REPLAY.is_file(), reason="no recorded phase40 replay in this checkout")
def test_scoring_the_phase40_replay_gives_the_reported_scores(suite: Suite) -> None:
    """The recorded Phase 40 outputs, scored by this rubric, give the report's per-prompt scores."""
    generations = read_replay(REPLAY)
    results = []
    for case in suite.cases:
        generation = generations[case.id][0]
        parsed = parse_output(generation.output, generation.server_tool_calls)
        score = score_case(case, suite.catalog, generation, parsed)
        results.append(
            CaseResult(
                case.id, case.category, case.prompt, score.value, score.verdict, score.note, 0, ""
            )
        )
    assert {r.id: (r.score, r.verdict) for r in results} == {
        case_id: (score, verdict) for case_id, (score, verdict, _) in PHASE40.items()
    }
    summary = summarise(suite, results)
    assert {row.name: round(row.score * 100, 1) for row in summary.rows} == REPORTED
