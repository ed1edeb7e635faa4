"""The plugin as a user meets it: pytester runs of a small suite and of the real `evalsuite/`.

The small suite ("mini") has four tools, four categories and four cases in two case files, and a
replay in which two cases get full credit (text-01, lsp-01), one a direct call (git-01, 0.5) and
one prose (cst-01, 0.0). Its targets miss only cst. The real suite is copied in with its
`phase40-8b` replay, whose category table is the reference report's.
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from dataclasses import fields
from pathlib import Path
from typing import Any

# hypothesis's pytest plugin imports `hypothesis` at the end of every in-process run unless it is
# already loaded; importing it here once makes those runs take 0.1 s instead of 2 s.
import hypothesis  # noqa: F401
import pytest

from pytest_codemode_eval.options import OPTIONS, OPTIONS_KEY, CodemodeOptions

REPO_ROOT = Path(__file__).resolve().parents[3]
EVALSUITE = REPO_ROOT / "evalsuite"

# ---------------------------------------------------------------------------------------------
# The mini suite.

MINI_SUITE_TOML = """\
[suite]
name = "mini"
catalog = "catalog.py"

[categories]
text = "Files"
git = "Repository"
cst = "Refactoring"
lsp = "Navigation"
"""

MINI_CATALOG = '''\
from __future__ import annotations

from typing import TypedDict


class Location(TypedDict):
    file: str
    line: int


def read_file(path: str) -> str:
    """Return the text of a file."""
    raise NotImplementedError


def git_status(path: str = ".") -> str:
    """Show the working tree status."""
    raise NotImplementedError


def cst_rename(file_path: str, old_name: str, new_name: str) -> str:
    """Rename a symbol in a file."""
    raise NotImplementedError


def goto_definition(file_path: str, symbol: str) -> list[Location]:
    """Find where a symbol is defined."""
    raise NotImplementedError


def execute_code(code: str) -> str:
    """Run Python code that calls the tools."""
    raise NotImplementedError


TOOLS = [read_file, git_status, cst_rename, goto_definition]
WRAPPER = execute_code
RESULT_TYPES = [Location]
'''

# Line numbers matter to the error tests: text-01 starts at line 1, git-01 at line 7 of
# basic.cases.toml; cst-01 at line 1, lsp-01 at line 7 of refactor.cases.toml.
MINI_BASIC_CASES = """\
[[case]]
id = "text-01"
category = "text"
prompt = "Show me src/app.py."
expected = ["read_file"]
pins.read_file = { path = "src/app.py" }
[[case]]
id = "git-01"
category = "git"
prompt = "What changed in the working tree?"
expected = ["git_status"]
"""

MINI_REFACTOR_CASES = """\
[[case]]
id = "cst-01"
category = "cst"
prompt = "Rename Old to New in src/app.py."
expected = ["cst_rename"]

[[case]]
id = "lsp-01"
category = "lsp"
prompt = "Where is App defined?"
expected = ["goto_definition"]
"""

MINI_TARGETS = """\
[targets]
text = 100
git = 50
cst = 90
lsp = 80
overall = 50
"""

MINI_IDS = ["text-01", "git-01", "cst-01", "lsp-01"]
MINI_NODE_IDS = [
    "cases/basic.cases.toml::text-01",
    "cases/basic.cases.toml::git-01",
    "cases/refactor.cases.toml::cst-01",
    "cases/refactor.cases.toml::lsp-01",
]


def code_mode(code: str) -> str:
    """A Hermes-style execute_code call, as a Code Mode model answers."""
    call = {"name": "execute_code", "arguments": {"code": code}}
    return f"<tool_call>\n{json.dumps(call)}\n</tool_call>"


def direct(name: str, **arguments: Any) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


MINI_REPLAY: list[dict[str, Any]] = [
    {"id": "text-01", "output": code_mode('print(read_file("src/app.py"))'), "seconds": 1.5},
    {"id": "git-01", "output": direct("git_status"), "seconds": 2.0, "finish": "stop"},
    {"id": "cst-01", "output": "I would rename it by hand.", "seconds": 3.0},
    {
        "id": "lsp-01",
        "output": code_mode('print(goto_definition("src/app.py", "App"))'),
        "seconds": 4.0,
        "prompt_tokens": 812,
        "generated_tokens": 31,
    },
]

# Every case gets full credit.
PERFECT_REPLAY: list[dict[str, Any]] = [
    {"id": "text-01", "output": code_mode('read_file("src/app.py")')},
    {"id": "git-01", "output": code_mode("git_status()")},
    {"id": "cst-01", "output": code_mode('cst_rename("src/app.py", "Old", "New")')},
    {"id": "lsp-01", "output": code_mode('goto_definition("src/app.py", "App")')},
]


def replay_text(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def write_mini_suite(root: Path) -> Path:
    """Write the mini suite, its targets and its replay below `root`; return `root`."""
    (root / "cases").mkdir(parents=True, exist_ok=True)
    files = {
        "suite.toml": MINI_SUITE_TOML,
        "catalog.py": MINI_CATALOG,
        "cases/basic.cases.toml": MINI_BASIC_CASES,
        "cases/refactor.cases.toml": MINI_REFACTOR_CASES,
        "targets.toml": MINI_TARGETS,
        "replay.jsonl": replay_text(MINI_REPLAY),
    }
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


REPLAY = ("--codemode-backend=replay", "--codemode-replay=replay.jsonl")
REAL = (
    "evalsuite",
    "--codemode-backend=replay",
    "--codemode-replay=evalsuite/replays/phase40-8b.jsonl",
)

# The reference report of phase40-8b: percentages per category, then overall.
PHASE40_TABLE = {  # the reference table's columns, Actual with its Wilson 95 % interval
    "text_tools": ("100.0%", "≥95.0%", "33.3 % [6.1–79.2]"),
    "validation": ("100.0%", "≥95.0%", "50.0 % [12.5–87.5]"),
    "git": ("100.0%", "≥90.0%", "33.3 % [6.1–79.2]"),
    "cst": ("100.0%", "≥90.0%", "0.0 % [0.0–56.1]"),
    "lsp": ("90.0%", "≥80.0%", "10.0 % [1.1–53.7]"),
    "domain": ("60.0%", "≥60.0%", "11.1 % [2.0–43.5]"),
    "multi_tool": ("35.0%", "≥35.0%", "0.0 % [0.0–79.3]"),
    "**Overall**": ("**82.4%**", "**≥80.0%**", "**18.5 % [8.2–36.7]**"),
}
PHASE40_N = {
    "text_tools": 3,
    "validation": 3,
    "git": 3,
    "cst": 3,
    "lsp": 5,
    "domain": 9,
    "multi_tool": 1,
}


@pytest.fixture
def mini(pytester: pytest.Pytester) -> pytest.Pytester:
    write_mini_suite(pytester.path)
    return pytester


@pytest.fixture
def real(pytester: pytest.Pytester) -> pytest.Pytester:
    """The repository's evalsuite (without the fixture workspace) copied into the pytester dir."""
    shutil.copytree(
        EVALSUITE,
        pytester.path / "evalsuite",
        ignore=shutil.ignore_patterns("workspace", "__pycache__"),
    )
    return pytester


def output_of(result: pytest.RunResult) -> str:
    return "\n".join([*result.outlines, *result.errlines])


def gate_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if line.startswith("codemode gate:")]


def load_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def without_date(document: dict[str, Any]) -> dict[str, Any]:
    document = json.loads(json.dumps(document))
    document["identity"].pop("started", None)
    return document


def markdown_without_date(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("**Date:**"))


def category_rows(markdown: str) -> dict[str, tuple[str, ...]]:
    """Category -> (baseline, target, actual, pass) from the markdown category table."""
    section = markdown.split("## Pre-Registered Success Criteria vs Actual", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] not in {"Category"} and not cells[0].startswith("---"):
            rows[cells[0]] = tuple(cells[1:])
    return rows


# ---------------------------------------------------------------------------------------------
# Collection: one item per case, selection by id and by category marker.


def test_one_item_per_case_in_suite_order(mini: pytest.Pytester) -> None:
    items, _ = mini.inline_genitems(*REPLAY)
    assert [item.nodeid for item in items] == MINI_NODE_IDS
    assert [item.nodeid.rsplit("::", 1)[1] for item in items] == MINI_IDS
    categories = [{m.name for m in item.iter_markers()} - {"timeout"} for item in items]
    assert categories == [{"text"}, {"git"}, {"cst"}, {"lsp"}]


def test_collect_only_lists_node_ids_ending_with_the_case_id(mini: pytest.Pytester) -> None:
    result = mini.runpytest("--collect-only", "-q", "--strict-markers")
    assert result.ret == 0
    listed = [line for line in result.outlines if "::" in line]
    assert listed == MINI_NODE_IDS


def test_real_suite_collects_27_cases(real: pytest.Pytester) -> None:
    items, recorder = real.inline_genitems("evalsuite", "--strict-markers")
    assert not recorder.getfailedcollections()
    assert len(items) == 27
    assert len({item.nodeid.rsplit("::", 1)[1] for item in items}) == 27


@pytest.mark.slow
@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (("-k", "dom-04"), ["dom-04"]),
        (("-m", "cst"), ["cst-01", "cst-02", "cst-03"]),
        (
            ("-m", "lsp or git"),
            ["git-01", "git-02", "git-03", "lsp-01", "lsp-02", "lsp-03", "lsp-04", "lsp-05"],
        ),
        (("-m", "multi_tool and not cst"), ["multi-01"]),
    ],
    ids=["k-dom-04", "m-cst", "m-lsp-or-git", "m-multi_tool"],
)
def test_select_cases_by_id_and_category(
    real: pytest.Pytester, selection: tuple[str, str], expected: list[str]
) -> None:
    result = real.runpytest("evalsuite", "--collect-only", "-q", "--strict-markers", *selection)
    assert result.ret == 0, output_of(result)
    assert [line.rsplit("::", 1)[1] for line in result.outlines if "::" in line] == expected


def test_selected_cases_run_clean_under_strict_markers(real: pytest.Pytester) -> None:
    result = real.runpytest(*REAL, "--strict-markers", "-m", "lsp or git", "-W", "error")
    result.assert_outcomes(failed=8)
    assert "Traceback" not in output_of(result)
    assert "not found in `markers`" not in output_of(result)


def test_markers_lists_the_suite_categories(mini: pytest.Pytester) -> None:
    mini.makeini("[pytest]\ncodemode_suite = suite.toml\n")
    result = mini.runpytest("--markers")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.text: Files",
            "@pytest.mark.git: Repository",
            "@pytest.mark.cst: Refactoring",
            "@pytest.mark.lsp: Navigation",
        ],
        consecutive=False,
    )


# ---------------------------------------------------------------------------------------------
# Per-case outcomes without the gate.


def test_case_below_full_credit_fails_with_score_verdict_and_note(mini: pytest.Pytester) -> None:
    recorder = mini.inline_run(*REPLAY)
    passed, _, failed = recorder.listoutcomes()
    assert sorted(report.nodeid for report in passed) == [MINI_NODE_IDS[0], MINI_NODE_IDS[3]]
    assert sorted(report.nodeid for report in failed) == [MINI_NODE_IDS[1], MINI_NODE_IDS[2]]
    git = recorder.matchreport("git-01", when="call")
    assert (
        git.longreprtext.splitlines()[0] == "score 0.50 [direct_call] Direct call, no execute_code"
    )
    cst = recorder.matchreport("cst-01", when="call")
    assert cst.longreprtext.splitlines()[0] == "score 0.00 [prose] Prose only, no tool call"


def test_failure_output_is_the_message_not_a_traceback(mini: pytest.Pytester) -> None:
    result = mini.runpytest(*REPLAY)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2, failed=2)
    lines = result.outlines
    git_header = next(i for i, line in enumerate(lines) if re.search(r"_ git-01 \[git\] _", line))
    assert lines[git_header + 1] == "score 0.50 [direct_call] Direct call, no execute_code"
    assert lines[git_header + 2].startswith('output: \'<tool_call> {"name": "git_status"')
    assert "Traceback" not in output_of(result)
    assert "runtest" not in output_of(result)


def test_terminal_summary_shows_the_category_table(mini: pytest.Pytester) -> None:
    result = mini.runpytest(*REPLAY)
    result.stdout.fnmatch_lines(
        [
            "*= codemode eval =*",
            "backend replay * suite * renderer *",
            "Category*n*Baseline*Target*Actual [[]95% CI]*Point*Decision",
            "text * 1 * >=100.0%*100.0% [[]20.7–100.0]*PASS*inconclusive",
            "git * >=50.0%*50.0% [[]5.5–94.5]*PASS*inconclusive",
            "cst * >=90.0%*0.0% [[]0.0–79.3]*FAIL*fail",
            "lsp * >=80.0%*100.0% [[]20.7–100.0]*PASS*inconclusive (~16 cases)",
            "overall * 4 * >=50.0%*62.5% [[]21.9–90.8]*PASS*inconclusive (~62 cases)",
            "text-01 * 1.00 * code_mode*",
            "git-01 * 0.50 * direct_call*",
            "Result: ❌ FAIL — 62.5 % [[]21.9–90.8] (target ≥50.0%); 95 % interval decision: "
            "inconclusive",
        ]
    )


# ---------------------------------------------------------------------------------------------
# The gate.


def test_gate_fails_with_one_line_per_missed_target(mini: pytest.Pytester) -> None:
    result = mini.runpytest(*REPLAY, "--codemode-gate")
    assert result.ret == 1
    result.assert_outcomes(passed=4)
    assert gate_lines(result) == ["codemode gate: cst 0.0% < target 90.0%"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("targets", "exit_code", "misses"),
    [
        ("[targets]\ntext = 100\ngit = 50\ncst = 0\nlsp = 100\noverall = 62.5\n", 0, []),
        ("[targets]\noverall = 62.5\n", 0, []),
        ("", 0, []),
        (
            "[targets]\ngit = 50.1\noverall = 70\n",
            1,
            [
                "codemode gate: git 50.0% < target 50.1%",
                "codemode gate: overall 62.5% < target 70.0%",
            ],
        ),
    ],
    ids=["all-met", "overall-only-met", "no-targets", "git-and-overall-missed"],
)
def test_gate_exit_status_comes_from_the_targets(
    mini: pytest.Pytester, targets: str, exit_code: int, misses: list[str]
) -> None:
    (mini.path / "other-targets.toml").write_text(targets, encoding="utf-8")
    result = mini.runpytest(*REPLAY, "--codemode-gate", "--codemode-targets=other-targets.toml")
    assert result.ret == exit_code, output_of(result)
    result.assert_outcomes(passed=4)
    assert gate_lines(result) == misses


def test_gate_on_the_real_suite_lists_every_miss(real: pytest.Pytester) -> None:
    result = real.runpytest(*REAL, "--codemode-gate")
    assert result.ret == 1
    result.assert_outcomes(passed=27)
    assert gate_lines(result) == [
        "codemode gate: text_tools 33.3% < target 95.0%",
        "codemode gate: validation 50.0% < target 95.0%",
        "codemode gate: git 33.3% < target 90.0%",
        "codemode gate: cst 0.0% < target 90.0%",
        "codemode gate: lsp 10.0% < target 80.0%",
        "codemode gate: domain 11.1% < target 60.0%",
        "codemode gate: multi_tool 0.0% < target 35.0%",
        "codemode gate: overall 18.5% < target 80.0%",
    ]


def test_gate_passes_when_every_case_gets_full_credit(mini: pytest.Pytester) -> None:
    (mini.path / "replay.jsonl").write_text(replay_text(PERFECT_REPLAY), encoding="utf-8")
    result = mini.runpytest(*REPLAY, "--codemode-gate")
    assert result.ret == 0
    result.assert_outcomes(passed=4)
    assert gate_lines(result) == []
    assert any(
        line.startswith("Result: ✅ PASS — 100.0 % [51.0–100.0]") and "decision: pass" in line
        for line in result.outlines
    )


# ---------------------------------------------------------------------------------------------
# The real suite reproduces the reference report.


def run_real_with_files(pytester: pytest.Pytester, *extra: str) -> pytest.RunResult:
    return pytester.runpytest(
        *REAL,
        "--codemode-report=out/report.md",
        "--codemode-results=out/results.json",
        "--junitxml=out/junit.xml",
        *extra,
    )


@pytest.mark.slow
def test_real_suite_markdown_reproduces_the_reference_table(real: pytest.Pytester) -> None:
    result = run_real_with_files(real)
    result.assert_outcomes(failed=27)
    markdown = (real.path / "out/report.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Code Mode eval: codemode-27\n")
    assert "| Category | phase33b Baseline | Target | Actual | Pass? |" in markdown
    rows = category_rows(markdown)
    assert {name: cells[:3] for name, cells in rows.items()} == PHASE40_TABLE
    # every point verdict fails; one case cannot back multi_tool's fail (0/1 reaches 79.3 %)
    assert {name: cells[3] for name, cells in rows.items() if cells[3] != "❌"} == {
        "multi_tool": "❌⚠️"
    }
    assert "**Result:** ❌ FAIL — 18.5 % [8.2–36.7] (target ≥80.0%)" in markdown
    assert "| dom-04 | Check dependency graph violations in src/servic… | 0.00 | 13.4s |" in (
        markdown
    )
    assert "- 0.50 (direct tool call, right tool): 10 prompts" in markdown
    assert "**Verdicts:** prose 5 · direct_call 10 · timeout 11 · wrong_tool 1" in markdown


@pytest.mark.slow
def test_real_suite_results_json(real: pytest.Pytester) -> None:
    run_real_with_files(real)
    document = load_json(real.path / "out/results.json")
    categories = {row["name"]: row for row in document["categories"]}
    assert list(categories) == list(PHASE40_N)
    assert {name: row["n"] for name, row in categories.items()} == PHASE40_N
    actual = {name: f"{row['score'] * 100:.1f}" for name, row in categories.items()}
    assert actual == {
        "text_tools": "33.3",
        "validation": "50.0",
        "git": "33.3",
        "cst": "0.0",
        "lsp": "10.0",
        "domain": "11.1",
        "multi_tool": "0.0",
    }
    assert categories["cst"]["target"] == pytest.approx(0.9)
    assert categories["lsp"]["baseline"] == pytest.approx(0.9)
    assert all(row["pass"] is False for row in categories.values())
    overall = document["overall"]
    assert (overall["n"], f"{overall['score'] * 100:.1f}") == (27, "18.5")
    assert overall["target"] == pytest.approx(0.8)
    assert overall["baseline"] == pytest.approx(0.824)
    assert overall["pass"] is False
    assert document["baseline"] == "phase33b"
    assert document["missing"] == []
    assert document["gate"]["passed"] is False
    assert len(document["gate"]["misses"]) == 8

    cases = {case["id"]: case for case in document["cases"]}
    assert len(cases) == 27
    for case in cases.values():
        assert {
            "id",
            "category",
            "score",
            "verdict",
            "note",
            "seconds",
            "finish",
            "tools_called",
            "prompt_tokens",
            "generated_tokens",
            "error",
            "server_tool_calls",
        } <= set(case)
    assert cases["valid-01"] | {"output": ""} == cases["valid-01"] | {
        "output": "",
        "id": "valid-01",
        "category": "validation",
        "score": 0.5,
        "verdict": "direct_call",
        "note": "Direct call, no execute_code",
        "seconds": 13.4,
        "finish": "stop",
        "tools_called": ["typecheck"],
    }
    assert (cases["cst-01"]["verdict"], cases["cst-01"]["finish"]) == ("timeout", "timeout")
    assert cases["lsp-04"]["tools_called"] == ["workspace_symbols"]

    identity = document["identity"]
    assert identity["suite"] == "codemode-27"
    assert re.fullmatch(r"[0-9a-f]{16}", identity["suite_hash"])
    assert re.fullmatch(r"[0-9a-f]{16}", identity["renderer_hash"])
    assert identity["backend"] == "replay"
    assert identity["model"]["name"] == "phase40-8b.jsonl"
    assert re.fullmatch(r"[0-9a-f]{16}", identity["model"]["fingerprint"])
    assert identity["warnings"] == []


@pytest.mark.slow
def test_junitxml_testcases_carry_score_verdict_and_category(real: pytest.Pytester) -> None:
    run_real_with_files(real)
    properties = junit_properties(real.path / "out/junit.xml")
    assert len(properties) == 27
    assert properties["valid-01"] == {
        "score": "0.5",
        "verdict": "direct_call",
        "category": "validation",
    }
    assert properties["cst-01"] == {"score": "0.0", "verdict": "timeout", "category": "cst"}
    assert {tuple(sorted(p)) for p in properties.values()} == {("category", "score", "verdict")}


def junit_properties(path: Path) -> dict[str, dict[str, str]]:
    tree = ET.parse(path)
    return {
        testcase.attrib["name"]: {
            prop.attrib["name"]: prop.attrib["value"] for prop in testcase.iter("property")
        }
        for testcase in tree.iter("testcase")
    }


@pytest.mark.slow
def test_xdist_run_writes_the_same_files_as_a_serial_run(real: pytest.Pytester) -> None:
    serial = run_real_with_files(real)
    serial.assert_outcomes(failed=27)
    serial_md = (real.path / "out/report.md").read_text(encoding="utf-8")
    serial_json = load_json(real.path / "out/results.json")
    serial_junit = junit_properties(real.path / "out/junit.xml")
    shutil.rmtree(real.path / "out")

    parallel = real.runpytest_subprocess(
        *REAL,
        "-n",
        "2",
        "--codemode-report=out/report.md",
        "--codemode-results=out/results.json",
        "--junitxml=out/junit.xml",
        "-p",
        "no:cacheprovider",
        timeout=120,
    )
    parallel.assert_outcomes(failed=27)
    assert "2 workers" in parallel.stdout.str()
    parallel_md = (real.path / "out/report.md").read_text(encoding="utf-8")
    assert markdown_without_date(parallel_md) == markdown_without_date(serial_md)
    assert without_date(load_json(real.path / "out/results.json")) == without_date(serial_json)
    assert junit_properties(real.path / "out/junit.xml") == serial_junit


# ---------------------------------------------------------------------------------------------
# Recording, and the GitHub step summary.


@pytest.mark.slow
def test_record_then_replay_round_trips(real: pytest.Pytester) -> None:
    first = real.runpytest(*REAL, "--codemode-record=rec.jsonl", "--codemode-results=a.json")
    first.assert_outcomes(failed=27)
    records = [json.loads(line) for line in (real.path / "rec.jsonl").read_text().splitlines()]
    assert len(records) == 27
    for record in records:
        assert {"id", "output", "seconds"} <= set(record)
        assert set(record) <= {
            "id",
            "output",
            "seconds",
            "finish",
            "prompt_tokens",
            "generated_tokens",
            "error",
            "tool_calls",
        }

    second = real.runpytest(
        "evalsuite",
        "--codemode-backend=replay",
        "--codemode-replay=rec.jsonl",
        "--codemode-results=b.json",
    )
    second.assert_outcomes(failed=27)
    a, b = load_json(real.path / "a.json"), load_json(real.path / "b.json")
    for key in ("cases", "categories", "overall", "gate", "missing"):
        assert a[key] == b[key], key
    assert a["identity"]["suite_hash"] == b["identity"]["suite_hash"]


def test_recorded_tokens_and_finish_survive_the_round_trip(mini: pytest.Pytester) -> None:
    mini.runpytest(*REPLAY, "--codemode-record=rec.jsonl")
    records = {
        r["id"]: r for r in map(json.loads, (mini.path / "rec.jsonl").read_text().split("\n")[:-1])
    }
    assert records["lsp-01"] == MINI_REPLAY[3] | {"finish": "stop"}
    assert records["git-01"] == MINI_REPLAY[1]


def test_github_step_summary_gets_the_markdown_appended(
    mini: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = mini.path / "step-summary.md"
    summary.write_text("## An earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    mini.runpytest(*REPLAY, "--codemode-report=report.md")
    markdown = (mini.path / "report.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Code Mode eval: mini")
    assert summary.read_text(encoding="utf-8") == "## An earlier step\n\n" + markdown


@pytest.mark.slow
def test_no_step_summary_without_the_variable(
    mini: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    result = mini.runpytest(*REPLAY)
    result.assert_outcomes(passed=2, failed=2)
    assert sorted(p.name for p in mini.path.iterdir() if p.suffix == ".md") == []


# ---------------------------------------------------------------------------------------------
# Options from the ini file, and their precedence.

INI_RUN = {
    "codemode_backend": "replay",
    "codemode_replay": "data/replay.jsonl",
    "codemode_report": "out/report.md",
    "codemode_results": "out/results.json",
    "codemode_record": "out/record.jsonl",
    "codemode_targets": "targets.toml",
    "codemode_gate": "true",
}


def write_ini(root: Path, style: str, values: dict[str, str]) -> None:
    if style == "pytest.ini":
        body = "".join(f"{key} = {value}\n" for key, value in values.items())
        (root / "pytest.ini").write_text("[pytest]\n" + body, encoding="utf-8")
    else:
        body = "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())
        (root / "pyproject.toml").write_text("[tool.pytest.ini_options]\n" + body, encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("style", ["pytest.ini", "pyproject.toml"])
def test_ini_options_drive_a_run_with_paths_relative_to_the_ini_file(
    mini: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, style: str
) -> None:
    (mini.path / "data").mkdir()
    (mini.path / "replay.jsonl").rename(mini.path / "data/replay.jsonl")
    write_ini(mini.path, style, INI_RUN)
    monkeypatch.chdir(mini.path / "cases")  # relative paths must not follow the working directory
    result = mini.runpytest()
    assert result.ret == 1, output_of(result)
    result.assert_outcomes(passed=4)  # the gate is on: cases pass, the exit status is the gate's
    assert gate_lines(result) == ["codemode gate: cst 0.0% < target 90.0%"]
    assert (mini.path / "out/report.md").read_text().startswith("# Code Mode eval: mini")
    assert load_json(mini.path / "out/results.json")["overall"]["n"] == 4
    assert len((mini.path / "out/record.jsonl").read_text().splitlines()) == 4


@pytest.mark.slow
def test_command_line_overrides_the_ini_file(mini: pytest.Pytester) -> None:
    (mini.path / "perfect.jsonl").write_text(replay_text(PERFECT_REPLAY), encoding="utf-8")
    (mini.path / "strict.toml").write_text("[targets]\noverall = 100\n", encoding="utf-8")
    write_ini(mini.path, "pytest.ini", INI_RUN | {"codemode_replay": "replay.jsonl"})
    from_ini = mini.runpytest()
    assert gate_lines(from_ini) == ["codemode gate: cst 0.0% < target 90.0%"]
    overridden = mini.runpytest(
        "--codemode-replay=perfect.jsonl",
        "--codemode-targets=strict.toml",
        "--codemode-results=cli.json",
    )
    assert overridden.ret == 0, output_of(overridden)
    assert gate_lines(overridden) == []
    assert load_json(mini.path / "cli.json")["overall"]["score"] == 1.0


# Every option: an ini value, what it resolves to, and a different command-line value.
EVERY_OPTION: dict[str, tuple[str, Any, str, Any]] = {
    "codemode_backend": ("replay", "replay", "replay", "replay"),
    "codemode_suite": ("suite.toml", "suite.toml", "cases/../suite.toml", "suite.toml"),
    "codemode_targets": ("targets.toml", "targets.toml", "alt/targets.toml", "alt/targets.toml"),
    "codemode_replay": ("replay.jsonl", "replay.jsonl", "alt/replay.jsonl", "alt/replay.jsonl"),
    "codemode_record": ("rec.jsonl", "rec.jsonl", "alt/rec.jsonl", "alt/rec.jsonl"),
    "codemode_report": ("r.md", "r.md", "alt/r.md", "alt/r.md"),
    "codemode_results": ("r.json", "r.json", "alt/r.json", "alt/r.json"),
    "codemode_html": ("r.html", "r.html", "alt/r.html", "alt/r.html"),
    "codemode_gate": ("true", True, "", True),
    "codemode_gate_mode": ("interval", "interval", "point", "point"),
    "codemode_baseline": ("base.json", "base.json", "alt/base.json", "alt/base.json"),
    "codemode_fail_on_regression": ("true", True, "", True),
    "codemode_repeats": ("3", 3, "2", 2),
    "codemode_dry_run": ("true", True, "", True),
    "codemode_cache": ("off", "off", "cache-dir", "cache-dir"),
    "codemode_time_budget": ("20", 20.0, "7.5", 7.5),
    "codemode_max_tokens": ("64", 64, "128", 128),
    "codemode_model": ("models/qwen", "models/qwen", "hub/other", "hub/other"),
    "codemode_adapter": ("adapters/a", "adapters/a", "alt/b", "alt/b"),
    "codemode_temperature": ("0.7", 0.7, "0", 0.0),
    "codemode_seed": ("3", 3, "11", 11),
    "codemode_batch_size": ("4", 4, "2", 2),
    "codemode_base_url": (
        "http://127.0.0.1:8080/v1, http://127.0.0.1:8081/v1/",
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8081/v1"),
        "http://h/v1",
        ("http://h/v1",),
    ),
    "codemode_api_model": ("qwen3", "qwen3", "other", "other"),
    "codemode_tool_choice": ("none", "none", "auto", "auto"),
    "codemode_api_key": ("k1", "k1", "k2", "k2"),
}
PATH_OPTIONS = {o.name for o in OPTIONS if o.kind == "path"}


def write_baseline(path: Path) -> None:
    """A minimal results file, as an earlier run writes it."""
    case = {"id": "text-01", "category": "text", "score": 1.0, "verdict": "code_mode"}
    path.write_text(json.dumps({"cases": [case]}), encoding="utf-8")


def expected_value(root: Path, name: str, value: Any) -> Any:
    return (root / value).resolve() if name in PATH_OPTIONS else value


@pytest.fixture
def no_codemode_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for option in OPTIONS:
        monkeypatch.delenv(option.env, raising=False)


def test_every_option_has_an_ini_twin_and_is_covered() -> None:
    assert set(EVERY_OPTION) == {o.name for o in OPTIONS}
    assert {f"codemode_{f.name}" for f in fields(CodemodeOptions)} == set(EVERY_OPTION)


@pytest.mark.slow
@pytest.mark.usefixtures("no_codemode_env")
@pytest.mark.parametrize("style", ["pytest.ini", "pyproject.toml"])
def test_every_option_is_read_from_the_ini_file(mini: pytest.Pytester, style: str) -> None:
    write_baseline(mini.path / "base.json")
    (mini.path / "replay.jsonl").write_text(replay_text(MINI_REPLAY * 3), encoding="utf-8")
    write_ini(mini.path, style, {name: raw for name, (raw, *_) in EVERY_OPTION.items()})
    options = mini.parseconfigure().stash[OPTIONS_KEY]
    for name, (_, value, *_) in EVERY_OPTION.items():
        got = getattr(options, name.removeprefix("codemode_"))
        assert got == expected_value(mini.path, name, value), name


@pytest.mark.usefixtures("no_codemode_env")
def test_every_option_on_the_command_line_overrides_the_ini_file(mini: pytest.Pytester) -> None:
    (mini.path / "alt").mkdir()
    (mini.path / "replay.jsonl").write_text(replay_text(MINI_REPLAY * 3), encoding="utf-8")
    shutil.copy(mini.path / "targets.toml", mini.path / "alt/targets.toml")
    shutil.copy(mini.path / "replay.jsonl", mini.path / "alt/replay.jsonl")
    write_baseline(mini.path / "base.json")
    write_baseline(mini.path / "alt/base.json")
    write_ini(mini.path, "pytest.ini", {name: raw for name, (raw, *_) in EVERY_OPTION.items()})
    flags = []
    for option in OPTIONS:
        cli = EVERY_OPTION[option.name][2]
        flags.append(option.flag if option.kind == "bool" else f"{option.flag}={cli}")
    options = mini.parseconfigure(*flags).stash[OPTIONS_KEY]
    for name, (*_, value) in EVERY_OPTION.items():
        got = getattr(options, name.removeprefix("codemode_"))
        assert got == expected_value(mini.path, name, value), name


@pytest.mark.usefixtures("no_codemode_env")
def test_environment_sits_between_command_line_and_ini(
    mini: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_ini(mini.path, "pytest.ini", {"codemode_seed": "1", "codemode_max_tokens": "100"})
    monkeypatch.setenv("CODEMODE_SEED", "2")
    monkeypatch.setenv("CODEMODE_MAX_TOKENS", "200")
    options = mini.parseconfigure("--codemode-max-tokens=300").stash[OPTIONS_KEY]
    assert (options.seed, options.max_tokens) == (2, 300)


def test_defaults_without_any_option(mini: pytest.Pytester, no_codemode_env: None) -> None:
    assert mini.parseconfigure().stash[OPTIONS_KEY] == CodemodeOptions()


def test_plugin_is_inert_for_ordinary_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "codemode eval" not in result.stdout.str()
    assert not list(pytester.path.glob("*.md"))


def test_case_time_budget_reaches_the_timeout_backstop(mini: pytest.Pytester) -> None:
    text = MINI_REFACTOR_CASES.replace(
        'expected = ["goto_definition"]', 'expected = ["goto_definition"]\ntime_budget = 30'
    )
    (mini.path / "cases/refactor.cases.toml").write_text(text, encoding="utf-8")
    items, _ = mini.inline_genitems(*REPLAY)
    timeouts = {item.name: item.get_closest_marker("timeout").args[0] for item in items}
    assert timeouts["lsp-01"] - timeouts["cst-01"] == pytest.approx(30 - 13.5)


WORKER_LOG = """
def pytest_runtest_logreport(report):
    node = getattr(report, "node", None)
    if report.when == "call" and node is not None:
        with open("workers.txt", "a") as log:
            log.write(f"{report.nodeid} {node.gateway.id}\\n")
"""


@pytest.mark.slow
@pytest.mark.parametrize("batch_size", ["1", "4"])
def test_batching_under_xdist_keeps_each_case_file_on_one_worker(
    real: pytest.Pytester, batch_size: str
) -> None:
    """A worker batches the cases it will run next; with `--dist load` those are unknowable,
    so batching switches it to `loadfile` (and leaves it alone without batching)."""
    real.makeconftest(WORKER_LOG)
    result = real.runpytest_subprocess(
        *REAL, "-n", "2", f"--codemode-batch-size={batch_size}", "-p", "no:cacheprovider",
        timeout=120,
    )  # fmt: skip
    result.assert_outcomes(failed=27)
    workers: dict[str, set[str]] = {}
    for line in (real.path / "workers.txt").read_text().splitlines():
        nodeid, worker = line.split()
        workers.setdefault(nodeid.split("::")[0], set()).add(worker)
    split_files = [name for name, seen in workers.items() if len(seen) > 1]
    if batch_size == "1":
        assert split_files, "plain --dist load should spread a case file over both workers"
    else:
        assert split_files == []
        assert len(set().union(*workers.values())) == 2


LOAD_ORDER_LOG = """
import os
events = []

def pytest_configure(config):
    from pytest_codemode_eval.backends import factory
    make_backend = factory.make_backend

    def logged(options):
        events.append("load")
        return make_backend(options)

    factory.make_backend = logged

def pytest_runtest_setup(item):
    events.append("case")

def pytest_sessionfinish(session):
    # not pytest_unconfigure: an xdist controller may end a worker right after the worker
    # reports its session finished, before the worker unconfigures (a race lost under load)
    name = getattr(session.config, "workerinput", {}).get("workerid", "main")
    with open(f"events-{name}.txt", "w") as log:
        log.write(",".join(events))
"""


@pytest.mark.slow
@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_the_model_loads_before_the_first_case_in_each_process(
    real: pytest.Pytester, workers: list[str]
) -> None:
    """A multi-GB load must not count against the first case's backstop timeout."""
    real.makeconftest(LOAD_ORDER_LOG)
    result = real.runpytest_subprocess(*REAL, *workers, "-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(failed=27)
    logs = {path.name: path.read_text() for path in real.path.glob("events-*.txt")}
    runners = {name: log for name, log in logs.items() if "case" in log}
    assert len(runners) == (2 if workers else 1)
    for log in runners.values():
        assert log.startswith("load,case,")
        assert log.count("load") == 1
    if workers:
        assert logs["events-main.txt"] == ""  # the controller loads nothing


def test_help_lists_every_option(pytester: pytest.Pytester) -> None:
    """A `%` in an option's help once made `pytest --help` crash inside argparse."""
    result = pytester.runpytest("--help")
    assert result.ret == 0, result.stderr.str()
    text = result.stdout.str()
    assert all(option.flag in text for option in OPTIONS)
    assert "95% interval" in text
