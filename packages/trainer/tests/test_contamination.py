"""The contamination check: paraphrases of eval prompts in training data are errors."""

from __future__ import annotations

import difflib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from codemode_trainer.checks.contamination import check_contamination, normalise, split_allowed
from codemode_trainer.cli import main
from pytest_codemode_eval.suite import load_suite

SUITE = Path(__file__).resolve().parents[3] / "evalsuite" / "suite.toml"


@pytest.fixture(scope="module")
def prompts() -> dict[str, str]:
    return {case.id: case.prompt for case in load_suite(SUITE).cases}


def chat(*users: str) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": "sys"}]
    for text in users:
        messages += [{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}]
    return {"messages": messages}


def test_normalise_ignores_case_whitespace_and_punctuation() -> None:
    assert normalise("  Validate ROUTE-patterns,\tin src/routes/api.py!! ") == (
        "validate route patterns in src routes api py"
    )


def test_flags_a_paraphrase_with_row_case_and_similarity(prompts: dict[str, str]) -> None:
    rows = [
        chat("What is Code Mode?"),
        chat("Thanks!", "validate the route patterns in src/routes/api.py"),
        chat("Are the URL routes of src/routes/api.py well formed?"),
    ]
    found = check_contamination(rows, prompts, threshold=0.9)
    assert [(d.row, d.case_id) for d in found] == [(2, "dom-06")]
    assert 0.9 <= found[0].similarity < 1.0
    assert found[0].text == "validate the route patterns in src/routes/api.py"


def test_tool_results_in_user_turns_are_not_prompts(prompts: dict[str, str]) -> None:
    response = "<tool_response>\nList the 5 most recent git commits.\n</tool_response>"
    assert check_contamination([chat(response)], prompts) == []


def test_row_numbers_can_be_line_numbers(prompts: dict[str, str]) -> None:
    found = check_contamination(
        [chat("List the 5 most recent git commits")], prompts, row_numbers=[41]
    )
    assert [(d.row, d.case_id, round(d.similarity, 3)) for d in found] == [(41, "git-03", 1.0)]


def test_allowed_case_ids_are_not_errors(prompts: dict[str, str]) -> None:
    found = check_contamination([chat("Show the git diff for uncommitted changes")], prompts)
    errors, allowed = split_allowed(found, ["git-02"])
    assert (errors, [d.case_id for d in allowed]) == ([], ["git-02"])


def test_lower_threshold_finds_more(prompts: dict[str, str]) -> None:
    rows = [chat("Show the diff of my uncommitted work")]
    assert check_contamination(rows, prompts, threshold=0.9) == []
    assert [d.case_id for d in check_contamination(rows, prompts, threshold=0.6)] == ["git-02"]
    with pytest.raises(ValueError, match="threshold"):
        check_contamination(rows, prompts, threshold=0)


@pytest.mark.slow
def test_a_real_sized_dataset_skips_almost_every_full_comparison(
    prompts: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cheap upper bounds decide nearly every pair, so 1,300 rows x 27 prompts stays fast
    (counted, not timed: a wall-clock limit fails on a loaded machine)."""
    full_ratio = difflib.SequenceMatcher.ratio
    computed: list[float] = []

    def counted(matcher: difflib.SequenceMatcher[str]) -> float:
        computed.append(full_ratio(matcher))
        return computed[-1]

    monkeypatch.setattr(difflib.SequenceMatcher, "ratio", counted)
    rng = random.Random(0)
    words = " ".join(prompts.values()).split()
    rows = [chat(" ".join(rng.choices(words, k=rng.randint(4, 14)))) for _ in range(1300)]
    rows.append(chat(next(iter(prompts.values())).upper()))  # one real duplicate, found
    found = check_contamination(rows, prompts, threshold=0.9)
    assert [d.row for d in found] == [1301]
    assert len(computed) < 0.01 * len(rows) * len(prompts)


def write(path: Path, *rows: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_cli_fails_on_near_duplicates_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write(
        tmp_path / "train.jsonl",
        chat("Hello"),
        chat("Validate route patterns in src/routes/api.py"),
    )
    argv = ["data", "contamination", str(data), "--suite", str(SUITE)]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "error: row 2 ~ dom-06 (1.000)" in out
    assert main([*argv, "--allow", "dom-06"]) == 0
    assert "allowed: row 2 ~ dom-06" in capsys.readouterr().out
    assert main([*argv, "--threshold", "0.99", "--allow", "dom-06", "git-01"]) == 0


def test_cli_rejects_unknown_allowed_ids_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write(tmp_path / "train.jsonl", chat("Hello"))
    argv = ["data", "contamination", str(data), "--suite", str(SUITE), "--allow", "dom-99"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "dom-99" in err
