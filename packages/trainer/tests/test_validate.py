"""``data validate`` on hand-made rows: each kind of problem is found, on the right row."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codemode_trainer.checks.validate import Finding, validate_dataset
from codemode_trainer.cli import main
from pytest_codemode_eval.catalog import Catalog
from pytest_codemode_eval.dry_run.sandbox import Sandbox
from pytest_codemode_eval.prompt import build_messages, wrapper_tool_schema
from pytest_codemode_eval.suite import load_suite

SUITE = Path(__file__).resolve().parents[3] / "evalsuite" / "suite.toml"
WORKSPACE = SUITE.parent / "workspace"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_suite(SUITE).catalog


def call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    function = {"name": name, "arguments": json.dumps(arguments)}
    return {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"type": "function", "function": function}],
    }


def code_call(code: str) -> dict[str, Any]:
    return call("execute_code", {"code": code})


def row(catalog: Catalog, *turns: dict[str, Any], user: str = "Lint src/.") -> dict[str, Any]:
    return {
        "messages": [*build_messages(catalog, user), *turns],
        "tools": [wrapper_tool_schema(catalog)],
    }


def bad_rows(catalog: Catalog) -> list[str]:
    """One problem per line; line numbers are the row numbers the findings must name."""
    good = row(catalog, code_call('print(ruff_check(path="src/"))'))
    other_system = row(catalog, code_call('print(ruff_check(path="src/"))'))
    other_system["messages"][0] = {"role": "system", "content": "You are Punie."}
    no_tools = {"messages": good["messages"]}
    xml = (
        "<tool_call>\n<function=execute_code>\n<parameter=code>\nprint(git_status(path='.'))"
        "\n</parameter>\n</function>\n</tool_call>"
    )
    rows: list[Any] = [
        good,  # 1
        "{not json",  # 2
        {"messages": []},  # 3
        {"messages": [{"content": "hi"}, {"role": "robot", "content": "x"}]},  # 4
        other_system,  # 5
        no_tools,  # 6
        row(catalog, call("delete_repo", {"path": "."})),  # 7
        row(catalog, code_call('frobnicate("x")\nprint(read_file(path="a.py"))')),  # 8
        row(catalog, code_call("print(read_file(path=)")),  # 9
        row(catalog, {"role": "assistant", "content": xml}),  # 10
        row(catalog, call("read_file", {"path": "src/app.py"})),  # 11
        row(catalog, code_call('print(typecheck(path="src/"))'),
            {"role": "tool", "content": "[]"}, {"role": "assistant", "content": "Clean."}),  # 12
        row(catalog, code_call('print(read_file(filename="a.py"))')),  # 13
        row(catalog, code_call('r = goto_definition(file_path="a.py", line=1, column=0, '
                               'symbol="A")\nprint(r.success)')),  # 14
        "",  # 15
        row(catalog, {"role": "assistant", "content": "Sure."}, user="Thanks!"),  # 16
    ]  # fmt: skip
    return [r if isinstance(r, str) else json.dumps(r) for r in rows]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as pool:
        yield pool


@pytest.fixture
def findings(catalog: Catalog, sandbox: Sandbox, tmp_path: Path) -> list[Finding]:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(bad_rows(catalog)) + "\n", encoding="utf-8")
    return validate_dataset(path, catalog, sandbox, WORKSPACE)


def rows_of(findings: list[Finding], kind: str) -> list[int]:
    return sorted({f.row for f in findings if f.kind == kind})


@pytest.mark.parametrize(
    ("kind", "rows"),
    [
        ("bad-json", [2, 15]),
        ("bad-messages", [3]),
        ("missing-role", [4]),
        ("unknown-role", [4]),
        ("no-assistant", [4]),
        ("system-prompt-mismatch", [4, 5]),
        ("tools-mismatch", [4, 6]),
        ("unknown-tool", [7]),
        ("unknown-code-call", [8]),
        ("code-syntax-error", [9]),
        ("text-tool-call", [10]),
        ("direct-call", [11]),
        ("call-not-last", [12]),
        ("bad-arguments", [13]),
        ("runtime-error", [8, 13, 14]),
        ("result-attribute", []),  # the dry run saw row 14 exactly
        ("not-dry-run", []),
    ],
)
def test_finds_each_kind_on_its_row(findings: list[Finding], kind: str, rows: list[int]) -> None:
    assert rows_of(findings, kind) == rows


def test_good_rows_have_no_findings(findings: list[Finding]) -> None:
    assert rows_of(findings, "bad-json") == [2, 15]
    assert not [f for f in findings if f.row in (1, 16)]


def test_messages_say_which_tool_and_what_differs(findings: list[Finding]) -> None:
    by_kind = {f.kind: f for f in findings if f.row > 4}
    assert "'delete_repo'" in by_kind["unknown-tool"].message
    assert "frobnicate" in by_kind["unknown-code-call"].message
    assert "read_file" not in by_kind["unknown-code-call"].message
    runtime = {f.row: f.message for f in findings if f.kind == "runtime-error"}
    assert runtime == {
        8: "message 2: raises NameError: name 'frobnicate' is not defined (line 1)",
        13: "message 2: raises TypeError: read_file(): missing a required argument: 'path' "
        "(line 1)",
        14: "message 2: raises AttributeError: 'list' object has no attribute 'success' (line 2)",
    }
    detail = by_kind["system-prompt-mismatch"].detail
    assert "'You are Punie.'" in detail
    assert "line 1" in detail


def test_cli_prints_a_table_and_fails_on_errors(
    catalog: Catalog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(bad_rows(catalog)) + "\n", encoding="utf-8")
    assert main(["data", "validate", str(path), "--suite", str(SUITE)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[1].split() == ["kind", "severity", "count", "rows"]
    assert "\nbad-json                error         2  2, 15\n" in out
    assert "tool calls: " in out


def test_warnings_alone_pass(catalog: Catalog, tmp_path: Path) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_text(json.dumps(row(catalog, call("read_file", {"path": "a.py"}))) + "\n")
    assert main(["data", "validate", str(path), "--suite", str(SUITE)]) == 0


def test_cli_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "validate", str(tmp_path / "nope.jsonl"), "--suite", str(SUITE)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "nope.jsonl" in err


def test_without_a_sandbox_result_attributes_are_read_statically(
    catalog: Catalog, tmp_path: Path
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(bad_rows(catalog)) + "\n", encoding="utf-8")
    static = validate_dataset(path, catalog)
    assert rows_of(static, "result-attribute") == [14]
    assert rows_of(static, "runtime-error") == []
    message = next(f.message for f in static if f.kind == "result-attribute")
    assert "goto_definition(...).success" in message
    assert "list[Location]" in message


def punie_row(code: str) -> dict[str, Any]:
    """A row in the punie dataset's shape: its own system prompt, the call in XML content."""
    call = f"<tool_call><function=execute_code>\n<parameter=code>\n{code}\n</parameter>\n"
    return {
        "messages": [
            {"role": "system", "content": "You are Punie, an AI coding assistant."},
            {"role": "user", "content": "Find ConfigLoader and check it."},
            {"role": "assistant", "content": call + "</function></tool_call>"},
        ]
    }


PUNIE_ROWS = [
    punie_row(  # reads result fields the tools do not return, as 875 of punie's 1,159 rows do
        'result = goto_definition("src/app.py", 15, 10, "ConfigLoader")\n'
        "if result.success:\n    print(result.locations[0].file)"
    ),
    punie_row('report = ruff_check("src/")\nprint(report.violation_count)'),
    punie_row('for loc in goto_definition("src/app.py", 15, 10, "AgentConfig"):\n    print(loc)'),
    punie_row('found = [goto_definition("src/app.py", 1, 0, s) for s in ["A", "B"]]\n'
              "print(found[1].locations)"),  # a comprehension: nothing for a static reading
]  # fmt: skip


def test_punie_style_rows_are_flagged_by_the_dry_run(
    catalog: Catalog, sandbox: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "punie.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in PUNIE_ROWS), encoding="utf-8")
    found = validate_dataset(path, catalog, sandbox, WORKSPACE)
    runtime = {f.row: f.message for f in found if f.kind == "runtime-error"}
    assert runtime == {
        1: "message 2: raises AttributeError: 'list' object has no attribute 'success' (line 2)",
        2: "message 2: raises AttributeError: 'list' object has no attribute 'violation_count' "
        "(line 2)",
        4: "message 2: raises AttributeError: 'list' object has no attribute 'locations' (line 2)",
    }
    assert rows_of(validate_dataset(path, catalog), "result-attribute") == [1, 2]


def test_the_cli_dry_runs_every_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "punie.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in PUNIE_ROWS), encoding="utf-8")
    assert main(["data", "validate", str(path), "--suite", str(SUITE)]) == 1
    out = capsys.readouterr().out
    assert "\nruntime-error           error         3  1-2, 4\n" in out
    assert "result-attribute" not in out


def test_built_data_runs_clean_in_the_dry_run(sandbox: Sandbox, tmp_path: Path) -> None:
    """The generated rows and the dry run share one home for tool results: they must agree."""
    from codemode_trainer.data.dataset import build_for_suite

    build_for_suite(SUITE, tmp_path, n_examples=150, seed=3)
    catalog = load_suite(SUITE).catalog
    found = validate_dataset(tmp_path / "train.jsonl", catalog, sandbox, WORKSPACE)
    assert [f for f in found if f.kind in ("runtime-error", "not-dry-run")] == []
