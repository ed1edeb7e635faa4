"""Snapshots of the three renderings of a Summary: markdown report, terminal summary, JSON.

Summaries are built with `summarize` and a fixed identity (no date, fixed hashes), so a snapshot
changes only when the rendering, the rubric or the suite's cases change. Update with
`uv run pytest packages/pytest-codemode-eval/tests/test_report.py --snapshot-update` and review
the diff of `__snapshots__/test_report.ambr`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from pytest_codemode_eval.aggregate import CaseResult, Summary, summarize
from pytest_codemode_eval.backends.replay import ReplayBackend
from pytest_codemode_eval.evaluate import Budgets, evaluate_case
from pytest_codemode_eval.gate import gate_misses
from pytest_codemode_eval.report import (
    percent,
    render_json,
    render_markdown,
    render_terminal,
    truncate,
)
from pytest_codemode_eval.suite import load_suite
from pytest_codemode_eval.targets import Baseline, Targets, load_targets
from pytest_codemode_eval.verdicts import Verdict

REPO_ROOT = Path(__file__).resolve().parents[3]
EVALSUITE = REPO_ROOT / "evalsuite"

RENDERERS: dict[str, Callable[[Summary], str]] = {
    "markdown": render_markdown,
    "terminal": render_terminal,
    "json": render_json,
}


def fixed_identity(suite: str, categories: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "suite": suite,
        "suite_hash": "5u17e0000000hash",
        "renderer_hash": "9e4de9e900000000",
        "categories": categories,
        "backend": "replay",
        "model": {
            "path": "replays/run.jsonl",
            "name": "run.jsonl",
            "fingerprint": "f1f2f3f4f5f6f7f8",
        },
        "warnings": [],
        **extra,
    }


def phase40_summary() -> Summary:
    """The real suite scored from the phase40-8b replay, exactly as a run would."""
    suite = load_suite(EVALSUITE / "suite.toml")
    backend = ReplayBackend(EVALSUITE / "replays" / "phase40-8b.jsonl")
    results = [evaluate_case(case, suite, backend, Budgets()) for case in suite.cases]
    categories = list(suite.categories)
    return summarize(
        results,
        categories,
        load_targets(EVALSUITE / "targets.toml", categories),
        [case.id for case in suite.cases],
        fixed_identity("codemode-27", categories),
    )


def result(
    case_id: str,
    category: str,
    score: float,
    verdict: Verdict,
    note: str,
    *,
    prompt: str = "Do the thing.",
    seconds: float = 1.0,
    finish: str = "stop",
    tools: tuple[str, ...] = (),
    tokens: tuple[int | None, int | None] = (None, None),
) -> CaseResult:
    return CaseResult(
        id=case_id,
        category=category,
        prompt=prompt,
        score=score,
        verdict=verdict,
        note=note,
        seconds=seconds,
        finish=finish,
        tools_called=tools,
        prompt_tokens=tokens[0],
        generated_tokens=tokens[1],
        output=f"<output of {case_id}>",
    )


HAND_MADE = [
    result(
        "chain-1",
        "chains",
        1.0,
        Verdict.CODE_MODE,
        "Code Mode call of goto_definition → read_file",
        prompt="Find the definition of App and read the file it is in.",
        seconds=3.25,
        tools=("goto_definition", "read_file"),
        tokens=(900, 65),
    ),
    result(
        "chain-2",
        "chains",
        0.5,
        Verdict.PARTIAL_CHAIN,
        "Chain 1/2, missing read_file",
        prompt="Find the definition of App, then read it and\nsummarise it in one line please.",
        seconds=2.0,
        tools=("goto_definition",),
    ),
    result(
        "chain-3",
        "chains",
        0.25,
        Verdict.PARTIAL_CHAIN,
        "Chain 1/2, missing read_file, direct calls",
        tools=("goto_definition",),
    ),
    result(
        "args-1",
        "arguments",
        0.5,
        Verdict.BAD_ARGUMENTS,
        "read_file: path='src/main.py', expected 'src/app.py'",
        tools=("read_file",),
    ),
    result(
        "args-2",
        "arguments",
        0.25,
        Verdict.BAD_ARGUMENTS,
        "git_log: arguments do not bind (missing a required argument: 'path') | direct",
        tools=("git_log",),
    ),
    result(
        "args-3",
        "arguments",
        0.0,
        Verdict.TRUNCATED,
        "Tool call execute_code cut off by the token limit",
        finish="length",
        seconds=12.0,
    ),
    result("misc-1", "misc", 0.5, Verdict.DIRECT_CALL, "Direct call, no execute_code"),
    result(
        "misc-2",
        "misc",
        0.0,
        Verdict.ERROR,
        "Generation failed: RuntimeError: boom",
        finish="error",
    ),
    result("misc-3", "misc", 0.0, Verdict.MALFORMED, "Malformed tool call: invalid JSON"),
    result(
        "misc-4", "misc", 0.0, Verdict.TIMEOUT, "Timeout after 13.5s — no output", finish="timeout"
    ),
]
HAND_MADE_ORDER = [
    "chain-1",
    "chain-2",
    "chain-3",
    "args-1",
    "args-2",
    "args-3",
    "misc-1",
    "misc-2",
    "misc-3",
    "misc-4",
    "misc-5",  # selected, but produced no result
]
HAND_MADE_CATEGORIES = ["chains", "arguments", "misc", "unused"]


def hand_made_summary() -> Summary:
    targets = Targets(
        targets={"chains": 0.583, "arguments": 0.3, "overall": 0.5},
        baseline=Baseline("hand", {"chains": 0.75, "misc": 0.1, "overall": 0.3}),
    )
    identity = fixed_identity(
        "hand-made",
        HAND_MADE_CATEGORIES,
        warnings=["baseline hand was measured with a different suite (aaaa vs bbbb)"],
    )
    # Shuffled on purpose: the summary must follow the suite order, not the arrival order.
    arrival = [HAND_MADE[i] for i in (9, 3, 0, 7, 1, 8, 2, 6, 5, 4)]
    return summarize(arrival, HAND_MADE_CATEGORIES, targets, HAND_MADE_ORDER, identity)


def untargeted_summary() -> Summary:
    """No targets and no baseline: the report says how it went without a verdict."""
    identity = fixed_identity("untargeted", ["chains"])
    return summarize(HAND_MADE[:3], ["chains"], Targets(), [r.id for r in HAND_MADE[:3]], identity)


SUMMARIES: dict[str, Callable[[], Summary]] = {
    "phase40": phase40_summary,
    "hand_made": hand_made_summary,
    "untargeted": untargeted_summary,
}


@pytest.mark.parametrize("renderer", list(RENDERERS))
@pytest.mark.parametrize("summary", list(SUMMARIES))
def test_rendering_snapshot(summary: str, renderer: str, snapshot: SnapshotAssertion) -> None:
    assert RENDERERS[renderer](SUMMARIES[summary]()) == snapshot


# ---------------------------------------------------------------------------------------------
# Properties the snapshots rely on, stated directly.


def test_phase40_reproduces_the_reference_category_table() -> None:
    summary = phase40_summary()
    assert [(row.name, row.n, percent(row.score)) for row in summary.rows] == [
        ("text_tools", 3, "33.3%"),
        ("validation", 3, "50.0%"),
        ("git", 3, "33.3%"),
        ("cst", 3, "0.0%"),
        ("lsp", 5, "10.0%"),
        ("domain", 9, "11.1%"),
        ("multi_tool", 1, "0.0%"),
        ("overall", 27, "18.5%"),
    ]
    assert len(gate_misses(summary)) == 8


def test_hand_made_summary_follows_suite_order_and_rounds_like_the_table() -> None:
    summary = hand_made_summary()
    assert [case.id for case in summary.cases] == HAND_MADE_ORDER[:-1]
    assert summary.missing == ("misc-5",)
    rows = {row.name: row for row in summary.rows}
    assert "unused" not in rows  # a category without results has no row
    # 1.75 / 3 = 58.33...% shows as 58.3% and meets a 58.3% target.
    assert (percent(rows["chains"].score), rows["chains"].passed) == ("58.3%", True)
    assert rows["arguments"].passed is False
    assert rows["misc"].passed is None
    assert [miss.line() for miss in gate_misses(summary)] == [
        "codemode gate: arguments 25.0% < target 30.0%",
        "codemode gate: overall 30.0% < target 50.0%",
    ]


def test_markdown_escapes_pipes_and_newlines_in_cells() -> None:
    markdown = render_markdown(hand_made_summary())
    assert "(missing a required argument: 'path') \\| direct |" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| chain-2 |"))
    assert row.count("|") == 6
    assert truncate("Find the definition of App, then read it and\nsummarise") in row


def test_json_round_trips_every_case_result() -> None:
    document = json.loads(render_json(hand_made_summary()))
    restored = [CaseResult.from_dict(case) for case in document["cases"]]
    assert restored == [HAND_MADE[i] for i in range(len(HAND_MADE))]
    assert document["missing"] == ["misc-5"]
    assert document["gate"]["passed"] is False
    assert document["gate"]["misses"] == [
        {"category": "arguments", "actual": 0.25, "target": 0.3},
        {"category": "overall", "actual": 0.3, "target": 0.5},
    ]
    # Every targeted row is inconclusive: 3-4 cases cannot decide; a missing case fails the gate.
    interval = document["gate"]["interval"]
    assert interval["exit_status"] == 1
    assert [(m["category"], m["decision"]) for m in interval["not_pass"]] == [
        ("chains", "inconclusive"),
        ("arguments", "inconclusive"),
        ("overall", "inconclusive"),
    ]


def test_results_json_carries_intervals_and_decisions() -> None:
    document = json.loads(render_json(hand_made_summary()))
    overall = document["overall"]
    assert overall["ci95"] == pytest.approx([0.1078, 0.6032], abs=1e-4)  # Wilson 3/10
    assert overall["decision"] == "inconclusive"
    chains = document["categories"][0]
    assert chains["name"] == "chains"
    assert chains["pass"] is True  # the point rule: 58.3 % meets 58.3 %
    assert chains["supported"] is False  # ... which 3 cases cannot back
    assert chains["cases_needed"] > 1000  # barely above the target: thousands of cases


def test_renderings_carry_no_date() -> None:
    for make in SUMMARIES.values():
        summary = make()
        assert "started" not in summary.identity
        assert "**Date:**" not in render_markdown(summary)
