"""Generated training data: what a user of ``data build`` relies on before training on it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from codemode_trainer.chat.render import ChatRenderer
from codemode_trainer.chat.templates import CallSyntax
from codemode_trainer.checks.code_checks import named_tools
from codemode_trainer.checks.contamination import check_contamination, closest_pairs
from codemode_trainer.checks.preflight import load_tokenizer
from codemode_trainer.cli import main
from codemode_trainer.data.dataset import DataError, Dataset, build_dataset
from codemode_trainer.rows import Row, row_texts, uncovered_call_turns
from codemode_trainer.training.init_model import init_model
from pytest_codemode_eval.catalog import Catalog
from pytest_codemode_eval.code_calls import Unresolved, analyse_code
from pytest_codemode_eval.generation import Generation
from pytest_codemode_eval.parse import parse_output
from pytest_codemode_eval.prompt import build_messages, render_system_prompt, wrapper_tool_schema
from pytest_codemode_eval.score import score_case
from pytest_codemode_eval.suite import Case, Suite, load_suite
from pytest_codemode_eval.verdicts import Verdict
from pytest_codemode_eval.workspace_facts import WorkspaceFacts, scan_workspace

ROOT = Path(__file__).resolve().parents[3]
SUITE = ROOT / "evalsuite" / "suite.toml"
N = 300


@pytest.fixture(scope="module")
def suite() -> Suite:
    return load_suite(SUITE)


@pytest.fixture(scope="module")
def facts() -> WorkspaceFacts:
    return scan_workspace(ROOT / "evalsuite" / "workspace")


def avoid(suite: Suite) -> dict[str, str]:
    return {case.id: case.prompt for case in suite.cases}


@pytest.fixture(scope="module")
def datasets(suite: Suite, facts: WorkspaceFacts) -> dict[str, Dataset]:
    return {
        syntax: build_dataset(
            suite.catalog,
            seed=7,
            n_examples=N,
            valid_fraction=0.1,
            call_syntax=syntax,
            workspace=facts,
            avoid=avoid(suite),
        )
        for syntax in ("json", "xml")
    }


def all_rows(dataset: Dataset) -> list[Row]:
    return [*dataset.train, *dataset.valid]


def last_turn_tools(row: Row, catalog: Catalog) -> tuple[str, ...]:
    return named_tools(row["messages"][-1], catalog)[0]


@pytest.mark.slow
def test_sizes_split_and_no_conversation_on_both_sides(datasets: dict[str, Dataset]) -> None:
    data = datasets["json"]
    assert len(data.train) + len(data.valid) == N
    assert 28 <= len(data.valid) <= 32

    def call_ids(rows: tuple[Row, ...]) -> set[str]:
        return {c["id"] for r in rows for m in r["messages"] for c in m.get("tool_calls", [])}

    assert not call_ids(data.train) & call_ids(data.valid)


def test_same_seed_gives_identical_files_other_seed_other_rows(
    suite: Suite, facts: WorkspaceFacts, tmp_path: Path
) -> None:
    def build(seed: int, out: Path) -> bytes:
        dataset = build_dataset(suite.catalog, seed=seed, n_examples=80, workspace=facts)
        train, valid = dataset.write(out)
        return train.read_bytes() + valid.read_bytes() + (out / "manifest.json").read_bytes()

    assert build(3, tmp_path / "a") == build(3, tmp_path / "b")
    assert build(3, tmp_path / "a") != build(4, tmp_path / "c")


def test_targets_are_balanced_across_all_26_tools(
    suite: Suite, datasets: dict[str, Dataset]
) -> None:
    counts = Counter(
        tool
        for row in all_rows(datasets["json"])
        for tool in last_turn_tools(row, suite.catalog)
        if tool in suite.catalog.tools
    )
    assert set(counts) == set(suite.catalog.tools)
    assert min(counts.values()) >= 0.8 * max(counts.values()), counts


def test_every_row_uses_the_eval_system_prompt_and_tool(
    suite: Suite, datasets: dict[str, Dataset]
) -> None:
    system = render_system_prompt(suite.catalog)
    for row in all_rows(datasets["json"]):
        assert row["tools"] == [wrapper_tool_schema(suite.catalog)]
        messages = row["messages"]
        assert messages[:2] == build_messages(suite.catalog, messages[1]["content"])
        assert messages[0]["content"] == system


@pytest.mark.slow
def test_mix_has_chains_multi_turn_and_plain_answers(
    suite: Suite, datasets: dict[str, Dataset]
) -> None:
    rows = all_rows(datasets["json"])
    chain_lengths = Counter(len(last_turn_tools(r, suite.catalog)) - 1 for r in rows)
    assert chain_lengths[2]
    assert chain_lengths[3]
    assert chain_lengths[1] > N / 2
    answers = [r for r in rows if not r["messages"][-1].get("tool_calls")]
    assert any(len(r["messages"]) == 3 for r in answers)  # no tool needed: plain text
    assert any(m["role"] == "tool" for r in answers for m in r["messages"])  # after a result
    assert any(len([m for m in r["messages"] if m["role"] == "user"]) == 2 for r in rows)
    assert all(r["messages"][-1]["role"] == "assistant" for r in rows)


def test_every_call_turn_ends_some_row(datasets: dict[str, Dataset]) -> None:
    for dataset in datasets.values():
        for rows in (dataset.train, dataset.valid):
            assert all(not turns for turns in uncovered_call_turns(rows))


@pytest.mark.slow
def test_user_prompts_are_not_near_duplicates_of_the_eval(
    suite: Suite, datasets: dict[str, Dataset]
) -> None:
    rows = all_rows(datasets["json"])
    assert check_contamination(rows, avoid(suite), threshold=0.9) == []
    assert closest_pairs(rows, avoid(suite), top=1)[0][0] < 0.85


def test_arguments_name_real_workspace_files_the_prompt_mentions(
    suite: Suite, datasets: dict[str, Dataset], facts: WorkspaceFacts
) -> None:
    checked = 0
    for row in all_rows(datasets["json"]):
        calls = (
            analyse_code(code_of(row["messages"][-1])).calls if len(row["messages"]) == 3 else ()
        )
        for call in calls:
            path = call.kwargs.get("file_path", call.kwargs.get("path"))
            if call.name == "write_file" or not isinstance(path, str) or path == ".":
                continue
            assert path.rstrip("/") in {p.rstrip("/") for p in [*facts.texts, *facts.folders]}
            if call.name.startswith(("validate_", "check_", "cst_", "document")):
                assert path in row["messages"][1]["content"]
                checked += 1
    assert checked > 50


def code_of(message: dict[str, Any]) -> str:
    if not message.get("tool_calls"):
        return ""
    arguments = message["tool_calls"][0]["function"]["arguments"]
    code: str = (json.loads(arguments) if isinstance(arguments, str) else arguments)["code"]
    return code


@pytest.fixture(scope="module")
def renderers(datasets: dict[str, Dataset], tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("models")
    corpus = list(row_texts(datasets["json"].train[:80]))
    return {
        syntax: ChatRenderer(
            load_tokenizer(init_model(root / syntax, corpus=corpus, call_syntax=syntax))
        )
        for syntax in ("json", "xml")
    }


def case_for(row: Row, catalog: Catalog) -> Case:
    """The eval case this row answers: its tools in order, pinned to the literal arguments."""
    calls = [c for c in analyse_code(code_of(row["messages"][-1])).calls if c.name in catalog.tools]
    pins: dict[str, tuple[dict[str, Any], ...]] = {}
    for call in calls:
        literal = {k: v for k, v in call.kwargs.items() if not isinstance(v, Unresolved)}
        pins.setdefault(call.name, (literal,))
    expected = tuple(call.name for call in calls)
    return Case("generated", "text_tools", "", expected, pins, None, None, SUITE, 0)


@pytest.mark.slow
@pytest.mark.parametrize("syntax", ["json", "xml"])
def test_every_rendered_target_parses_back_and_scores_full_marks(
    suite: Suite, datasets: dict[str, Dataset], renderers: Any, syntax: CallSyntax
) -> None:
    renderer: ChatRenderer = renderers[syntax]
    scored = 0
    for row in all_rows(datasets[syntax]):
        messages = row["messages"]
        if not messages[-1].get("tool_calls"):
            continue
        full = renderer.render(messages, row["tools"], prompt=False)
        target = renderer.target(messages, row["tools"], len(messages) - 1, full)
        parsed = parse_output(target)
        assert [call.syntax for call in parsed.calls] == [syntax]
        case = case_for(row, suite.catalog)
        score = score_case(case, suite.catalog, Generation(target), parsed)
        assert (score.value, score.verdict) == (1.0, Verdict.CODE_MODE), (target, score.note)
        scored += 1
    assert scored > N * 0.6


def test_cli_build_writes_mlx_lm_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "data"
    assert main(["data", "build", "--suite", str(SUITE), "--out", str(out), "--n", "40"]) == 0
    printed = capsys.readouterr().out
    rows = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    valid = (out / "valid.jsonl").read_text().splitlines()
    assert (len(rows) + len(valid), len(valid) in (4, 5)) == (40, True)
    assert f"wrote {len(rows)} train rows to {out / 'train.jsonl'}" in printed
    assert all(set(row) == {"messages", "tools"} for row in rows)
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["call_syntax"], manifest["valid"]) == ("json", len(valid))


def test_cli_takes_the_call_syntax_from_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = init_model(tmp_path / "m", corpus=["Read the file."], call_syntax="xml")
    argv = ["data", "build", "--suite", str(SUITE), "--out", str(tmp_path / "d"), "--n", "20"]
    assert main([*argv, "--model", str(model)]) == 0
    row = json.loads((tmp_path / "d" / "train.jsonl").read_text().splitlines()[0])
    calls = [m for m in row["messages"] if m.get("tool_calls")]
    assert not calls or isinstance(calls[0]["tool_calls"][0]["function"]["arguments"], dict)
    capsys.readouterr()
    assert main([*argv, "--model", str(model), "--call-syntax", "json"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "xml" in err


def test_rejects_impossible_requests(suite: Suite, facts: WorkspaceFacts) -> None:
    with pytest.raises(DataError, match="n_examples"):
        build_dataset(suite.catalog, n_examples=1, workspace=facts)
    with pytest.raises(DataError, match="valid_fraction"):
        build_dataset(suite.catalog, valid_fraction=1.5, workspace=facts)


def test_plain_single_call_mix_for_small_models(suite: Suite, facts: WorkspaceFacts) -> None:
    data = build_dataset(
        suite.catalog, n_examples=60, workspace=facts, mix={"single": 1.0}, plain_code=True
    )
    for row in (*data.train, *data.valid):
        (call,) = row["messages"][-1]["tool_calls"]
        code = json.loads(call["function"]["arguments"])["code"]
        (found,) = analyse_code(code).calls[:1]
        assert code == f"print({code[6:-1]})"  # one plain print of one call
        assert found.name in suite.catalog.tools
    assert len(data.train) + len(data.valid) == 60


def test_unknown_episode_kind_in_mix_is_refused(suite: Suite, facts: WorkspaceFacts) -> None:
    with pytest.raises(DataError, match="unknown kinds"):
        build_dataset(suite.catalog, n_examples=10, workspace=facts, mix={"singel": 1.0})
