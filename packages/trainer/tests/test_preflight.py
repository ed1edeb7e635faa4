"""Preflight catches each way a model and a dataset can disagree with the eval, all at once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from codemode_trainer.chat.tokenizer import MARKUP_TOKENS
from codemode_trainer.checks.preflight import (
    PreflightError,
    PreflightReport,
    preflight,
    split_multi_turn,
)
from codemode_trainer.cli import main
from codemode_trainer.data.dataset import Dataset, build_dataset
from codemode_trainer.rows import Row, row_texts, write_jsonl
from codemode_trainer.training.init_model import init_model
from pytest_codemode_eval.catalog import Catalog
from pytest_codemode_eval.prompt import build_messages, wrapper_tool_schema
from pytest_codemode_eval.suite import load_suite

ROOT = Path(__file__).resolve().parents[3]
SUITE = ROOT / "evalsuite" / "suite.toml"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_suite(SUITE).catalog


@pytest.fixture(scope="module")
def dataset(catalog: Catalog) -> Dataset:
    return build_dataset(catalog, seed=1, n_examples=24, workspace=ROOT / "evalsuite" / "workspace")


@pytest.fixture(scope="module")
def rows(dataset: Dataset) -> list[Row]:
    """All generated rows, for one train file (whole conversations stay in one file)."""
    return [*dataset.train, *dataset.valid]


@pytest.fixture(scope="module")
def models(rows: list[Row], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root, corpus = tmp_path_factory.mktemp("models"), list(row_texts(rows))
    built = {s: init_model(root / s, corpus=corpus, call_syntax=s) for s in ("json", "xml")}
    split = root / "split-markers"  # the json model whose markup tokens are not special
    shutil.copytree(built["json"], split)
    tokenizer = json.loads((split / "tokenizer.json").read_text())
    tokenizer["added_tokens"] = [
        t for t in tokenizer["added_tokens"] if t["content"] not in MARKUP_TOKENS
    ]
    (split / "tokenizer.json").write_text(json.dumps(tokenizer))
    config = json.loads((split / "tokenizer_config.json").read_text())
    config["added_tokens_decoder"] = {
        k: v for k, v in config["added_tokens_decoder"].items() if v["content"] not in MARKUP_TOKENS
    }
    (split / "tokenizer_config.json").write_text(json.dumps(config))
    return {**built, "split-markers": split}


def run(
    model: Path, catalog: Catalog, tmp_path: Path, rows: list[Row], **kw: Any
) -> PreflightReport:
    """Preflight ``rows`` as the train file (row n is line n) with an empty valid file."""
    train, valid = tmp_path / "train.jsonl", tmp_path / "valid.jsonl"
    write_jsonl(train, rows)
    write_jsonl(valid, [])
    return preflight(model, train, valid, catalog, **kw)


def checks(report: PreflightReport) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in report.problems:
        found.setdefault(problem.kind, []).append(problem.where)
    return found


def call_row(catalog: Catalog, code: str, user: str = "Lint src/ please.") -> Row:
    function = {"name": "execute_code", "arguments": json.dumps({"code": code})}
    answer = {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"type": "function", "function": function}],
    }
    return {
        "messages": [*build_messages(catalog, user), answer],
        "tools": [wrapper_tool_schema(catalog)],
    }


@pytest.mark.slow
def test_generated_data_passes_with_both_call_syntaxes(
    models: dict[str, Path], catalog: Catalog, tmp_path: Path, rows: list[Row]
) -> None:
    report = run(models["json"], catalog, tmp_path, rows)
    assert report.ok, report.render()
    assert report.rows == len(rows)
    data = build_dataset(
        catalog,
        seed=1,
        n_examples=24,
        call_syntax="xml",
        workspace=ROOT / "evalsuite" / "workspace",
    )
    xml_report = run(models["xml"], catalog, tmp_path, [*data.train, *data.valid])
    assert xml_report.ok, xml_report.render()
    assert "all checks passed" in xml_report.render()


def test_call_marker_split_into_pieces(
    models: dict[str, Path], catalog: Catalog, tmp_path: Path, rows: list[Row]
) -> None:
    report = run(models["split-markers"], catalog, tmp_path, rows)
    assert set(checks(report)) == {"tokens"}
    messages = [p.message for p in report.problems]
    assert any(m.startswith("'<tool_call>' is ") and "tokens" in m for m in messages)
    assert all(p.where == "tokenizer" for p in report.problems)


def test_parity_catches_another_system_prompt_and_missing_tools(
    models: dict[str, Path], catalog: Catalog, tmp_path: Path, rows: list[Row]
) -> None:
    punie = call_row(catalog, 'print(ruff_check(path="src/"))')
    punie["messages"][0]["content"] = "You are Punie, an AI coding assistant."
    no_tools = call_row(catalog, 'print(ruff_check(path="src/"))')
    del no_tools["tools"]
    report = run(models["json"], catalog, tmp_path, [*rows, punie, no_tools])
    n = len(rows)
    assert checks(report) == {"parity": [f"train.jsonl:{n + 1}", f"train.jsonl:{n + 2}"]}
    first, second = report.problems
    assert "system prompt differs" in first.message
    assert "You are Punie" in first.detail
    assert "no tools" in second.message


@pytest.mark.slow
def test_rows_longer_than_max_seq_length(
    models: dict[str, Path], catalog: Catalog, tmp_path: Path, rows: list[Row]
) -> None:
    longest = run(models["json"], catalog, tmp_path, rows).longest
    long_row = call_row(catalog, 'print(read_file(path="src/app.py"))', "Read it. " * 400)
    report = run(models["json"], catalog, tmp_path, [*rows, long_row], max_seq_length=longest)
    assert checks(report) == {"length": [f"train.jsonl:{len(rows) + 1}"]}
    assert f"> max_seq_length {longest}" in report.problems[0].message


@pytest.mark.slow
def test_call_turn_that_is_not_last_is_never_trained(
    models: dict[str, Path], catalog: Catalog, tmp_path: Path, rows: list[Row]
) -> None:
    answered = call_row(catalog, 'print(typecheck(path="src/"))')
    answered["messages"] += [
        {"role": "tool", "content": "[]"},
        {"role": "assistant", "content": "No type errors."},
    ]
    report = run(models["json"], catalog, tmp_path, [*rows, answered])
    assert checks(report) == {"masking": [f"train.jsonl:{len(rows) + 1}"]}
    assert "call turn(s) 2" in report.problems[0].message
    assert run(models["json"], catalog, tmp_path, [*rows, *split_multi_turn([answered])]).ok


def test_split_multi_turn_ends_a_row_at_every_call() -> None:
    call = {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f"}}]}
    row = {
        "messages": [
            {"role": "user"},
            call,
            {"role": "tool"},
            {"role": "assistant"},
            {"role": "user"},
            call,
        ],
        "tools": ["t"],
    }
    pieces = split_multi_turn([row])
    assert [len(p["messages"]) for p in pieces] == [2, 6]
    assert all(p["tools"] == ["t"] for p in pieces)


def test_targets_the_eval_parser_cannot_read_back(
    models: dict[str, Path], catalog: Catalog, tmp_path: Path, rows: list[Row]
) -> None:
    cut = call_row(catalog, 'print("</tool_call>")\nprint(git_status(path="."))')
    broken = call_row(catalog, "print(git_status(path=.)")
    report = run(models["json"], catalog, tmp_path, [*rows, cut, broken])
    n = len(rows)
    assert checks(report) == {"parse": [f"train.jsonl:{n + 1}", f"train.jsonl:{n + 2}"]}
    assert "invalid JSON" in report.problems[0].message
    assert "code does not parse" in report.problems[1].message


def test_calls_in_another_syntax_and_unrenderable_rows(
    models: dict[str, Path], catalog: Catalog, tmp_path: Path, rows: list[Row]
) -> None:
    xml = (
        "<tool_call>\n<function=execute_code>\n<parameter=code>\n"
        "print(git_status(path='.'))\n</parameter>\n</function>\n</tool_call>"
    )
    typed = {
        "messages": [*build_messages(catalog, "Status?"), {"role": "assistant", "content": xml}],
        "tools": [wrapper_tool_schema(catalog)],
    }
    report = run(models["json"], catalog, tmp_path, [*rows, typed])
    assert checks(report) == {"syntax": [f"train.jsonl:{len(rows) + 1}"]}
    json_rows = run(models["xml"], catalog, tmp_path, rows)  # JSON-string arguments
    assert "render" in checks(json_rows)


def test_every_problem_is_listed_not_just_the_first(
    models: dict[str, Path], catalog: Catalog, tmp_path: Path, rows: list[Row]
) -> None:
    other = call_row(catalog, 'print(ruff_check(path="src/"))')
    other["messages"][0]["content"] = "Other."
    answered = call_row(catalog, "print(git_status(path=.)", "Status? " * 300)
    answered["messages"] += [
        {"role": "tool", "content": "x"},
        {"role": "assistant", "content": "y"},
    ]
    bad = [*rows, other, answered]
    report = run(models["split-markers"], catalog, tmp_path, bad, max_seq_length=1900)
    assert set(checks(report)) == {"tokens", "parity", "length", "masking", "parse"}
    text = report.render()
    for check in ("tokens", "parity", "length", "masking", "parse"):
        assert f"\n{check} (" in text


def test_missing_model_or_tokenizer_is_one_line(
    catalog: Catalog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(PreflightError, match="model directory not found"):
        preflight(tmp_path / "nope", tmp_path / "t", tmp_path / "v", catalog)
    (tmp_path / "empty").mkdir()
    with pytest.raises(PreflightError, match="no tokenizer"):
        preflight(tmp_path / "empty", tmp_path / "t", tmp_path / "v", catalog)
    argv = ["preflight", "--model", str(tmp_path / "empty"), "--data", str(tmp_path)]
    assert main([*argv, "--suite", str(SUITE)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert str(tmp_path / "empty") in err


@pytest.mark.slow
def test_cli_passes_on_good_data(
    models: dict[str, Path], tmp_path: Path, dataset: Dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset.write(tmp_path)
    argv = ["preflight", "--model", str(models["json"]), "--data", str(tmp_path)]
    assert main([*argv, "--suite", str(SUITE)]) == 0
    assert "all checks passed" in capsys.readouterr().out
    assert main([*argv, "--suite", str(SUITE), "--max-seq-length", "10"]) == 1
    assert "length" in capsys.readouterr().out
