"""Bad input gives one clear line naming the file, the line and the field, never a traceback.

Each row breaks one thing in the mini suite of test_plugin.py (its case files, targets, replay or
the options) and states the one message a user must see and the exit status.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# See test_plugin.py: keeps hypothesis from being re-imported by every in-process run.
import hypothesis  # noqa: F401
import pytest
from test_plugin import MINI_REPLAY, REPLAY, replay_text, write_mini_suite

COLLECTION_ERROR = pytest.ExitCode.INTERRUPTED
USAGE_ERROR = pytest.ExitCode.USAGE_ERROR


def edit(relative: str, old: str, new: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / relative
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return apply


def append(relative: str, text: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        with (root / relative).open("a", encoding="utf-8") as handle:
            handle.write(text)

    return apply


def write(relative: str, text: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        (root / relative).write_text(text, encoding="utf-8")

    return apply


def nothing(root: Path) -> None:
    return None


@dataclass(frozen=True)
class BadInput:
    """One broken input; `message` is formatted with `root`, the pytester directory."""

    id: str
    break_it: Callable[[Path], None]
    message: str
    exit_code: int = COLLECTION_ERROR
    args: tuple[str, ...] = REPLAY


BAD_INPUTS = [
    BadInput(
        "case-file-malformed-toml",
        append("cases/refactor.cases.toml", "[[case]\n"),
        "{root}/cases/refactor.cases.toml:12: malformed TOML: "
        "Expected ']]' at the end of an array declaration (column 7)",
    ),
    BadInput(
        "case-file-unterminated-string",
        edit("cases/basic.cases.toml", 'prompt = "What changed', 'prompt = "What changed\n'),
        "{root}/cases/basic.cases.toml:10: malformed TOML: Illegal character '\\n'",
    ),
    BadInput(
        "suite-file-malformed-toml",
        edit("suite.toml", 'name = "mini"', 'name = "mini'),
        "{root}/suite.toml:2: malformed TOML: ",
    ),
    BadInput(
        "suite-unknown-field",
        edit("suite.toml", 'catalog = "catalog.py"', 'catalog = "catalog.py"\ntime_budjet = 5'),
        "{root}/suite.toml:4: [suite] unknown field(s) ['time_budjet']; "
        "allowed: ['catalog', 'max_tokens', 'name', 'native_tools', 'prompt_style', "
        "'time_budget']",
    ),
    BadInput(
        "suite-catalog-missing",
        edit("suite.toml", 'catalog = "catalog.py"', 'catalog = "tools.py"'),
        "{root}/suite.toml:3: [suite] catalog: file not found: {root}/tools.py",
    ),
    BadInput(
        "suite-budget-not-positive",
        edit("suite.toml", 'catalog = "catalog.py"', 'catalog = "catalog.py"\ntime_budget = 0'),
        "{root}/suite.toml:4: [suite] time_budget: expected a positive finite number, got 0",
    ),
    BadInput(
        "suite-budget-infinite",
        edit("suite.toml", 'catalog = "catalog.py"', 'catalog = "catalog.py"\ntime_budget = inf'),
        "{root}/suite.toml:4: [suite] time_budget: expected a positive finite number, got inf",
    ),
    BadInput(
        "suite-budget-nan",
        edit("suite.toml", 'catalog = "catalog.py"', 'catalog = "catalog.py"\ntime_budget = nan'),
        "{root}/suite.toml:4: [suite] time_budget: expected a positive finite number, got nan",
    ),
    BadInput(
        "option-time-budget-nan",
        nothing,
        "ERROR: --codemode-time-budget: expected a finite number, got 'nan'",
        USAGE_ERROR,
        (*REPLAY, "--codemode-time-budget=nan"),
    ),
    BadInput(
        "replay-seconds-nan",
        write("replay.jsonl", '{"id": "text-01", "output": "", "seconds": NaN}\n'),
        "ERROR: --codemode-replay: {root}/replay.jsonl:1: case 'text-01': field 'seconds' must "
        "be a non-negative number",
        USAGE_ERROR,
    ),
    BadInput(
        "category-named-like-a-pytest-marker",
        edit("suite.toml", 'lsp = "Navigation"', 'lsp = "Navigation"\nskip = "Ignored"'),
        "{root}/suite.toml:10: [categories] 'skip' is a pytest marker with its own meaning; "
        "rename it",
    ),
    BadInput(
        "unknown-category",
        edit("cases/refactor.cases.toml", 'category = "cst"', 'category = "refactoring"'),
        "{root}/cases/refactor.cases.toml:1: case 'cst-01': unknown category 'refactoring'; "
        "known: text, git, cst, lsp",
    ),
    BadInput(
        "unknown-tool-in-expected",
        edit("cases/refactor.cases.toml", '["goto_definition"]', '["goto_def"]'),
        "{root}/cases/refactor.cases.toml:7: case 'lsp-01': unknown tool 'goto_def' in "
        "'expected'; not in the catalog",
    ),
    BadInput(
        "duplicate-id",
        edit("cases/refactor.cases.toml", 'id = "lsp-01"', 'id = "text-01"'),
        "{root}/cases/refactor.cases.toml:7: duplicate case id 'text-01' "
        "(first defined at {root}/cases/basic.cases.toml:1)",
    ),
    BadInput(
        "unknown-field",
        edit("cases/refactor.cases.toml", 'id = "lsp-01"', 'id = "lsp-01"\npromt = "typo"'),
        "{root}/cases/refactor.cases.toml:7: unknown field(s) ['promt']; allowed: ['category', "
        "'expected', 'id', 'max_tokens', 'pins', 'prompt', 'time_budget']",
    ),
    BadInput(
        "missing-prompt",
        edit("cases/basic.cases.toml", 'prompt = "What changed in the working tree?"\n', ""),
        "{root}/cases/basic.cases.toml:7: case 'git-01': field 'prompt' must be a non-empty string",
    ),
    BadInput(
        "expected-not-a-list",
        edit("cases/refactor.cases.toml", '["goto_definition"]', '"goto_definition"'),
        "{root}/cases/refactor.cases.toml:7: case 'lsp-01': field 'expected' must be a list of "
        "tool names ([] when the right answer calls no tool)",
    ),
    BadInput(
        "pin-names-a-non-parameter",
        edit("cases/basic.cases.toml", '{ path = "src/app.py" }', '{ file = "src/app.py" }'),
        "{root}/cases/basic.cases.toml:1: case 'text-01': pins.read_file.file is not a "
        "parameter of read_file; expected one of path",
    ),
    BadInput(
        "pin-names-a-tool-not-expected",
        edit("cases/basic.cases.toml", "pins.read_file", "pins.git_status"),
        "{root}/cases/basic.cases.toml:1: case 'text-01': pins.git_status names a tool that is "
        "not in 'expected'",
    ),
    BadInput(
        "catalog-fails-to-import",
        append("catalog.py", "\nraise RuntimeError('catalog is broken')\n"),
        "{root}/catalog.py: catalog failed to import: RuntimeError('catalog is broken')",
    ),
    BadInput(
        "catalog-calls-sys-exit",
        append("catalog.py", "\nimport sys\nsys.exit(3)\n"),
        "{root}/catalog.py: catalog exited while importing (exit code 3)",
    ),
    BadInput(
        "catalog-mutating-names-an-unknown-tool",
        append("catalog.py", "MUTATING = [cst_rename, 'write_file']\n"),
        "{root}/catalog.py:39: MUTATING names tool(s) not in TOOLS: 'write_file'; "
        "known: read_file, git_status, cst_rename, goto_definition",
    ),
    BadInput(
        "catalog-mutating-not-a-collection",
        append("catalog.py", "MUTATING = 'cst_rename'\n"),
        "{root}/catalog.py: MUTATING must be a list, tuple or set of tools from TOOLS",
    ),
    BadInput(
        "targets-unknown-category",
        append("targets.toml", "refactoring = 10\n"),
        "{root}/targets.toml:7: [targets] refactoring: unknown category; "
        "known: text, git, cst, lsp, overall",
    ),
    BadInput(
        "targets-not-a-percentage",
        edit("targets.toml", "cst = 90", "cst = 190"),
        "{root}/targets.toml:4: [targets] cst: expected a percentage 0-100, got 190",
    ),
    BadInput(
        "targets-malformed-toml",
        edit("targets.toml", "git = 50", "git = "),
        "{root}/targets.toml:3: malformed TOML: Invalid value (column 7)",
    ),
    BadInput(
        "replay-line-not-json",
        write("replay.jsonl", replay_text(MINI_REPLAY[:1]) + "not json\n"),
        "ERROR: --codemode-replay: {root}/replay.jsonl:2: not a JSON object (Expecting value)",
        USAGE_ERROR,
    ),
    BadInput(
        "replay-line-nested-too-deeply",
        write("replay.jsonl", "[" * 100_000 + "\n"),
        "ERROR: --codemode-replay: {root}/replay.jsonl:1: not a JSON object (nested too deeply)",
        USAGE_ERROR,
    ),
    BadInput(
        "replay-output-not-a-string",
        write("replay.jsonl", json.dumps({"id": "text-01", "output": 3}) + "\n"),
        "ERROR: --codemode-replay: {root}/replay.jsonl:1: case 'text-01': "
        "field 'output' must be a string",
        USAGE_ERROR,
    ),
    BadInput(
        "replay-bad-finish",
        write("replay.jsonl", json.dumps({"id": "t", "output": "", "finish": "done"}) + "\n"),
        "ERROR: --codemode-replay: {root}/replay.jsonl:1: case 't': "
        "field 'finish' must be one of stop, length, timeout",
        USAGE_ERROR,
    ),
    BadInput(
        "replay-fewer-lines-than-repeats",
        write("replay.jsonl", replay_text([*MINI_REPLAY, MINI_REPLAY[0]])),
        "ERROR: --codemode-replay: {root}/replay.jsonl: --codemode-repeats=2 needs 2 outputs "
        "per case (one line each, in order); too few for git-01, cst-01, lsp-01",
        USAGE_ERROR,
        (*REPLAY, "--codemode-repeats=2"),
    ),
    BadInput(
        "baseline-not-results",
        write("base.json", '{"overall": 1}'),
        "ERROR: --codemode-baseline: {root}/base.json: not a codemode results file: "
        "expected an object with 'cases'",
        USAGE_ERROR,
        (*REPLAY, "--codemode-baseline=base.json"),
    ),
    BadInput(
        "baseline-bad-score",
        write(
            "base.json",
            '{"cases": [{"id": "a", "category": "git", "verdict": "prose", "score": 2}]}',
        ),
        "ERROR: --codemode-baseline: {root}/base.json: cases[0].score: expected a number from "
        "0 to 1, got 2",
        USAGE_ERROR,
        (*REPLAY, "--codemode-baseline=base.json"),
    ),
    BadInput(
        "baseline-missing",
        nothing,
        "ERROR: --codemode-baseline: {root}/nothere.json: cannot read results file: "
        "No such file or directory",
        USAGE_ERROR,
        (*REPLAY, "--codemode-baseline=nothere.json"),
    ),
    BadInput(
        "base-url-not-http",
        nothing,
        "ERROR: --codemode-base-url: 'localhost:8080' is not an http(s) URL; expected e.g. "
        "http://127.0.0.1:8080/v1",
        USAGE_ERROR,
        ("--codemode-backend=openai", "--codemode-base-url=localhost:8080"),
    ),
    BadInput(
        "base-url-missing",
        nothing,
        "ERROR: --codemode-base-url URL is required with --codemode-backend=openai",
        USAGE_ERROR,
        ("--codemode-backend=openai",),
    ),
    BadInput(
        "model-folder-missing",
        nothing,
        "ERROR: --codemode-model: model folder not found: ./models/absent",
        USAGE_ERROR,
        ("--codemode-backend=mlx", "--codemode-model=./models/absent"),
    ),
    BadInput(
        "output-path-is-a-directory",
        write("cases/out.md", ""),
        "ERROR: --codemode-report: {root}/cases is a directory; expected a file path",
        USAGE_ERROR,
        (*REPLAY, "--codemode-report=cases"),
    ),
    BadInput(
        "gate-mode-unknown",
        nothing,
        "ERROR: --codemode-gate-mode: 'strict' is not one of point, interval",
        USAGE_ERROR,
        (*REPLAY, "--codemode-gate-mode=strict"),
    ),
    BadInput(
        "repeats-zero",
        nothing,
        "ERROR: --codemode-repeats must be >= 1",
        USAGE_ERROR,
        (*REPLAY, "--codemode-repeats=0"),
    ),
    BadInput(
        "replay-file-missing",
        nothing,
        "ERROR: --codemode-replay: file not found: {root}/nothere.jsonl",
        USAGE_ERROR,
        ("--codemode-backend=replay", "--codemode-replay=nothere.jsonl"),
    ),
    BadInput(
        "replay-backend-without-replay-file",
        nothing,
        "ERROR: --codemode-replay FILE is required with --codemode-backend=replay",
        USAGE_ERROR,
        ("--codemode-backend=replay",),
    ),
    BadInput(
        "unknown-backend",
        nothing,
        "ERROR: --codemode-backend: 'llama' is not one of replay, mlx, openai",
        USAGE_ERROR,
        ("--codemode-backend=llama",),
    ),
    BadInput(
        "targets-file-missing",
        nothing,
        "ERROR: targets file not found: {root}/missing.toml",
        USAGE_ERROR,
        (*REPLAY, "--codemode-targets=missing.toml"),
    ),
    BadInput(
        "time-budget-not-a-number",
        nothing,
        "ERROR: --codemode-time-budget: expected a number, got 'soon'",
        USAGE_ERROR,
        (*REPLAY, "--codemode-time-budget=soon"),
    ),
    BadInput(
        "ini-value-names-its-source",
        write("pytest.ini", "[pytest]\ncodemode_max_tokens = many\n"),
        "ERROR: ini codemode_max_tokens: expected a number, got 'many'",
        USAGE_ERROR,
    ),
]


@pytest.fixture
def mini_root(pytester: pytest.Pytester) -> Path:
    return write_mini_suite(pytester.path)


def output_of(result: pytest.RunResult) -> str:
    return "\n".join([*result.outlines, *result.errlines])


def assert_no_traceback(output: str) -> None:
    assert "Traceback" not in output
    assert "pytest_codemode_eval" not in output  # no frame of the plugin's own source
    assert "\nE   " not in output


@pytest.mark.slow
@pytest.mark.parametrize("bad", BAD_INPUTS, ids=[bad.id for bad in BAD_INPUTS])
def test_bad_input_is_one_clear_line(
    pytester: pytest.Pytester, mini_root: Path, bad: BadInput
) -> None:
    bad.break_it(mini_root)
    result = pytester.runpytest(*bad.args)
    output = output_of(result)
    message = bad.message.format(root=mini_root)
    assert result.ret == bad.exit_code, output
    matching = [line for line in [*result.outlines, *result.errlines] if message in line]
    assert len(matching) == 1, output  # said once, on one line
    assert_no_traceback(output)
    assert "codemode eval" not in output  # nothing ran, so no report
    if bad.exit_code == COLLECTION_ERROR:
        assert output.count("ERROR collecting") == 1, output
        assert "Interrupted: 1 error during collection" in output


@pytest.mark.slow
def test_a_suite_error_is_reported_once_under_xdist(
    pytester: pytest.Pytester, mini_root: Path
) -> None:
    BAD_INPUTS[0].break_it(mini_root)
    result = pytester.runpytest_subprocess(*REPLAY, "-n", "2", "-p", "no:cacheprovider")
    output = output_of(result)
    assert result.ret != 0
    assert f"{mini_root}/cases/refactor.cases.toml:12: malformed TOML: " in output
    assert_no_traceback(output)


def test_replay_without_a_selected_case_fails_that_case_only(
    pytester: pytest.Pytester, mini_root: Path
) -> None:
    (mini_root / "replay.jsonl").write_text(replay_text(MINI_REPLAY[:2]), encoding="utf-8")
    result = pytester.runpytest(*REPLAY, "--codemode-results=results.json")
    output = output_of(result)
    result.assert_outcomes(passed=1, failed=3)
    for case_id in ("cst-01", "lsp-01"):
        message = f"{mini_root}/replay.jsonl: no recorded output for case {case_id!r}"
        assert [line for line in result.outlines if line == message] == [message], output
    assert "score 0.50 [direct_call] Direct call, no execute_code" in result.outlines
    assert_no_traceback(output)
    assert "WARNING: 2 case(s) produced no result: cst-01, lsp-01" in result.outlines
    document = json.loads((mini_root / "results.json").read_text(encoding="utf-8"))
    assert [case["id"] for case in document["cases"]] == ["text-01", "git-01"]
    assert document["missing"] == ["cst-01", "lsp-01"]
    assert document["gate"]["passed"] is False


def test_gate_fails_when_a_selected_case_has_no_replay(
    pytester: pytest.Pytester, mini_root: Path
) -> None:
    (mini_root / "replay.jsonl").write_text(replay_text(MINI_REPLAY[:3]), encoding="utf-8")
    (mini_root / "easy.toml").write_text("[targets]\noverall = 10\n", encoding="utf-8")
    result = pytester.runpytest(*REPLAY, "--codemode-gate", "--codemode-targets=easy.toml")
    assert result.ret == 1
    assert "codemode gate: case lsp-01 produced no result" in result.outlines
    assert_no_traceback(output_of(result))


def test_deselected_cases_need_no_replay(pytester: pytest.Pytester, mini_root: Path) -> None:
    (mini_root / "replay.jsonl").write_text(replay_text(MINI_REPLAY[:1]), encoding="utf-8")
    (mini_root / "t").write_text("[targets]\ntext = 100\n", encoding="utf-8")
    result = pytester.runpytest(*REPLAY, "--codemode-gate", "-k", "text", "--codemode-targets=t")
    assert result.ret == 0, output_of(result)
    result.assert_outcomes(passed=1, deselected=3)


def test_no_backend_fails_each_case_with_one_line(
    pytester: pytest.Pytester, mini_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CODEMODE_BACKEND", raising=False)
    result = pytester.runpytest("-p", "no:cacheprovider")
    output = output_of(result)
    result.assert_outcomes(failed=4)
    message = (
        "ERROR: no backend chosen: pass --codemode-backend=replay|mlx|openai "
        "(or set codemode_backend in the ini file)"
    )
    assert result.outlines.count(message) == 4, output
    assert_no_traceback(output)


def test_collect_only_needs_no_backend(pytester: pytest.Pytester, mini_root: Path) -> None:
    result = pytester.runpytest("--collect-only", "-q")
    assert result.ret == 0
    assert sum("::" in line for line in result.outlines) == 4


@pytest.mark.slow
def test_case_file_outside_any_suite(pytester: pytest.Pytester) -> None:
    (pytester.path / "loose.cases.toml").write_text("[[case]]\nid = 'x'\n", encoding="utf-8")
    result = pytester.runpytest()
    output = output_of(result)
    assert result.ret == COLLECTION_ERROR
    assert (
        f"{pytester.path}/loose.cases.toml: no suite.toml in this folder or above it"
        in result.outlines
    ), output
    assert_no_traceback(output)


def test_every_bad_input_is_listed_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Bad input", 1)[1].split("\n## ", 1)[0]
    assert [bad.id for bad in BAD_INPUTS if f"| `{bad.id}` |" not in section] == []
