"""End to end: intervals on every row, the interval gate's exit statuses, repeats, and the paired
comparison through `--codemode-baseline` and through `codemode-eval compare`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from test_plugin import MINI_REPLAY, REAL, REPLAY, code_mode, replay_text

from pytest_codemode_eval.cli import main as codemode_eval
from pytest_codemode_eval.suite import Case, Suite, load_suite

EVALSUITE = Path(__file__).resolve().parents[3] / "evalsuite"
EXIT_INCONCLUSIVE = 6


@pytest.fixture
def real(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copytree(
        EVALSUITE, pytester.path / "evalsuite", ignore=shutil.ignore_patterns("workspace")
    )
    return pytester


def gate_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if line.startswith("codemode gate:")]


def _value(annotation: str) -> Any:
    """A value of the parameter's annotated type, for arguments a case does not pin."""
    if annotation.startswith("int"):
        return 1
    if annotation.startswith("list"):
        return ["src/"]
    if annotation.startswith("bool"):
        return False
    return "src/"


def perfect_output(case: Case, suite: Suite) -> str:
    """An execute_code call of every expected tool, in order, with the pinned arguments."""
    lines = []
    for tool in case.expected:
        spec = suite.catalog.tools[tool]
        arguments = dict(case.pins.get(tool, ({},))[0])
        for name in spec.required_parameters():
            annotation = spec.signature.parameters[name].annotation
            arguments.setdefault(name, _value(str(annotation)))
        call = ", ".join(f"{key}={value!r}" for key, value in arguments.items())
        lines.append(f"print({tool}({call}))")
    return code_mode("\n".join(lines))


def write_perfect_replay(root: Path) -> Path:
    suite = load_suite(root / "evalsuite" / "suite.toml")
    records = [{"id": case.id, "output": perfect_output(case, suite)} for case in suite.cases]
    path = root / "perfect.jsonl"
    path.write_text(replay_text(records), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# Intervals and the interval gate on the reference suite.


def test_phase40_replay_prints_an_interval_on_every_row(real: pytest.Pytester) -> None:
    result = real.runpytest(*REAL, "--codemode-results=out.json")
    document = json.loads((real.path / "out.json").read_text(encoding="utf-8"))
    overall = document["overall"]
    assert overall["ci95"] == pytest.approx([0.0818, 0.3670], abs=5e-5)
    assert all(len(row["ci95"]) == 2 for row in document["categories"])
    table = [line for line in result.outlines if line.split() and line.split()[0] == "overall"]
    assert "18.5% [8.2–36.7]" in table[0]


@pytest.mark.slow
def test_the_report_links_its_pictures_and_shows_the_confusion_matrix(
    real: pytest.Pytester,
) -> None:
    real.runpytest(*REAL, "--codemode-report=out/report.md", "--codemode-results=out/r.json")
    markdown = (real.path / "out/report.md").read_text(encoding="utf-8")
    for name in ("report-categories.png", "report-confusion.png"):
        assert (real.path / "out" / name).read_bytes().startswith(b"\x89PNG")
        assert f"]({name})" in markdown
    assert "| document_symbols |" in markdown  # lsp-04 called workspace_symbols instead
    confusion = json.loads((real.path / "out/r.json").read_text("utf-8"))["confusion"]
    row = confusion["rows"].index("document_symbols")
    column = confusion["columns"].index("workspace_symbols")
    assert confusion["counts"][row][column] == 1
    assert confusion["chains"] == {"prose": 1}


def test_interval_gate_fails_with_a_line_for_each_category_that_is_not_pass(
    real: pytest.Pytester,
) -> None:
    result = real.runpytest(*REAL, "--codemode-gate-mode=interval")
    assert result.ret == 1
    lines = gate_lines(result)
    assert [line.split()[2] for line in lines] == [
        "text_tools",
        "validation",
        "git",
        "cst",
        "lsp",
        "domain",
        "multi_tool",
        "overall",
    ]
    assert "codemode gate: overall fail: 18.5% [8.2–36.7] vs target 80.0%" in lines
    # one case of multi_tool at 0.0 still reaches 79.3 %: the data cannot fail it
    assert any(line.startswith("codemode gate: multi_tool inconclusive:") for line in lines)


@pytest.mark.slow
def test_full_credit_everywhere_is_inconclusive_under_the_interval_gate(
    real: pytest.Pytester,
) -> None:
    write_perfect_replay(real.path)
    perfect = ("evalsuite", "--codemode-backend=replay", "--codemode-replay=perfect.jsonl")
    point = real.runpytest(*perfect, "--codemode-gate")
    point.assert_outcomes(passed=27)
    assert point.ret == 0
    interval = real.runpytest(*perfect, "--codemode-gate-mode=interval")
    assert interval.ret == EXIT_INCONCLUSIVE
    lines = gate_lines(interval)
    # 3/3 has a lower bound of 0.44: every 3-case category is inconclusive at its 90-95 % target
    assert (
        "codemode gate: text_tools inconclusive: 100.0% [43.9–100.0] vs target 95.0%" in (lines[0])
    )
    assert all(" inconclusive: " in line for line in lines)
    assert not any(line.split()[2] == "domain" for line in lines)  # 9/9 clears 60 %


def test_the_interval_gate_mode_is_read_from_the_ini_file(real: pytest.Pytester) -> None:
    real.makeini("[pytest]\ncodemode_gate_mode = interval\n")
    result = real.runpytest(*REAL)
    assert result.ret == 1
    assert len(gate_lines(result)) == 8


# ---------------------------------------------------------------------------------------------
# Repeats.

REPEATED = [
    *MINI_REPLAY,
    {"id": "text-01", "output": "Just open the file."},  # repeat 2 of text-01: prose
    {"id": "git-01", "output": code_mode("print(git_status())")},
    {"id": "cst-01", "output": "Still by hand."},
    {"id": "lsp-01", "output": code_mode('print(goto_definition("src/app.py", "App"))')},
]


@pytest.fixture
def repeated(pytester: pytest.Pytester) -> pytest.Pytester:
    from test_plugin import write_mini_suite

    write_mini_suite(pytester.path)
    (pytester.path / "replay.jsonl").write_text(replay_text(REPEATED), encoding="utf-8")
    return pytester


def run_repeated(pytester: pytest.Pytester, *extra: str) -> dict[str, Any]:
    pytester.runpytest(*REPLAY, "--codemode-repeats=2", "--codemode-results=r.json", *extra)
    document: dict[str, Any] = json.loads((pytester.path / "r.json").read_text("utf-8"))
    return document


def test_repeats_run_every_case_k_times_and_report_pass_hat_k(
    repeated: pytest.Pytester,
) -> None:
    result = repeated.runpytest(*REPLAY, "--codemode-repeats=2", "--codemode-results=r.json")
    result.assert_outcomes(passed=4, failed=4)
    document = json.loads((repeated.path / "r.json").read_text("utf-8"))
    assert document["repeats"] == 2
    per_case = {case["id"]: case for case in document["per_case"]}
    assert per_case["text-01"]["score"] == 0.5
    assert per_case["text-01"]["pass_hat_k"] == {"1": 0.5, "2": 0.0}
    assert per_case["text-01"]["pass_at_k"] == {"1": 0.5, "2": 1.0}
    assert per_case["lsp-01"]["pass_hat_k"]["2"] == 1.0
    assert per_case["git-01"]["verdicts"] == ["direct_call", "code_mode"]
    overall = document["overall"]
    assert overall["n"] == 4  # distinct cases, not samples
    assert overall["samples"] == 8
    assert overall["pass_hat_k"] == 0.25  # only lsp-01 got full credit both times
    assert overall["format_adherence"] == 5 / 8
    assert overall["score"] == pytest.approx((0.5 + 0.75 + 0.0 + 1.0) / 4)


def test_k_selects_every_repeat_of_a_case(repeated: pytest.Pytester) -> None:
    result = repeated.runpytest(*REPLAY, "--codemode-repeats=2", "-k", "git-01", "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*git-01?1-2? *", "*git-01?2-2? *"])


@pytest.mark.slow
def test_repeats_under_xdist_equal_a_serial_run(repeated: pytest.Pytester) -> None:
    serial = run_repeated(repeated)
    parallel = run_repeated(repeated, "-n", "2")
    for document in (serial, parallel):
        document["identity"].pop("started", None)
    assert parallel == serial


@pytest.mark.slow
def test_a_markdown_report_with_repeats_has_one_row_per_case(repeated: pytest.Pytester) -> None:
    repeated.runpytest(*REPLAY, "--codemode-repeats=2", "--codemode-report=r.md")
    markdown = (repeated.path / "r.md").read_text("utf-8")
    rows = [line for line in markdown.splitlines() if line.startswith("| text-01 |")]
    assert len(rows) == 1
    assert "1/2 full credit, pass^2 0.00; code_mode ×1, prose ×1" in rows[0]
    assert "| Category | n | Actual [95 % CI] | Target | Decision | Cases needed | Format |" in (
        markdown
    )


# ---------------------------------------------------------------------------------------------
# Paired comparison with a baseline run.

IMPROVED = [  # every case of the mini suite at full credit
    {"id": "text-01", "output": code_mode('read_file("src/app.py")')},
    {"id": "git-01", "output": code_mode("git_status()")},
    {"id": "cst-01", "output": code_mode('cst_rename("src/app.py", "Old", "New")')},
    {"id": "lsp-01", "output": code_mode('goto_definition("src/app.py", "App")')},
]


@pytest.fixture
def two_runs(pytester: pytest.Pytester) -> pytest.Pytester:
    from test_plugin import write_mini_suite

    write_mini_suite(pytester.path)
    (pytester.path / "improved.jsonl").write_text(replay_text(IMPROVED), encoding="utf-8")
    pytester.runpytest(*REPLAY, "--codemode-results=base.json")
    return pytester


@pytest.mark.slow
@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_the_baseline_comparison_lists_flips_and_a_verdict(
    two_runs: pytest.Pytester, workers: list[str]
) -> None:
    result = two_runs.runpytest(
        *workers,
        "--codemode-backend=replay",
        "--codemode-replay=improved.jsonl",
        "--codemode-baseline=base.json",
        "--codemode-results=new.json",
        "--codemode-report=new.md",
    )
    comparison = json.loads((two_runs.path / "new.json").read_text("utf-8"))["comparison"]
    assert comparison["baseline"].endswith("base.json")
    assert [(f["id"], f["before"], f["after"]) for f in comparison["flips"]] == [
        ("git-01", 0.5, 1.0),
        ("cst-01", 0.0, 1.0),
    ]
    assert comparison["flips"][1]["before_verdict"] == "prose"
    assert comparison["flips"][1]["after_verdict"] == "code_mode"
    overall = comparison["overall"]
    assert overall["delta"] == pytest.approx(0.375)
    assert overall["mcnemar_p"] == 0.5  # two one-way flips: 2 * 0.5^2
    assert overall["verdict"] == "no_detectable_difference"  # 2 of 4 cannot decide
    assert set(overall) >= {"delta", "ci95", "mcnemar_p", "verdict"}
    result.stdout.fnmatch_lines(
        ["paired comparison with *base.json (4 cases)", "*improved*cst-01*"]
    )
    markdown = (two_runs.path / "new.md").read_text("utf-8")
    assert "## Paired comparison with a baseline run" in markdown
    assert "| cst-01 | cst | improved | 0.00 prose | 1.00 code_mode |" in markdown


@pytest.mark.slow
def test_the_standalone_compare_command_gives_the_same_comparison(
    two_runs: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    two_runs.runpytest(
        "--codemode-backend=replay",
        "--codemode-replay=improved.jsonl",
        "--codemode-baseline=base.json",
        "--codemode-results=new.json",
    )
    root = two_runs.path
    status = codemode_eval(
        ["compare", str(root / "base.json"), str(root / "new.json"), "--json", str(root / "c.json")]
    )
    assert status == 0
    standalone = json.loads((root / "c.json").read_text("utf-8"))["comparison"]
    in_run = json.loads((root / "new.json").read_text("utf-8"))["comparison"]
    for key in ("overall", "categories", "flips"):
        assert standalone[key] == in_run[key]
    assert "paired comparison with" in capsys.readouterr().out


@pytest.mark.slow
def test_fail_on_regression_turns_an_overall_worse_into_exit_1(pytester: pytest.Pytester) -> None:
    from test_plugin import write_mini_suite

    write_mini_suite(pytester.path)
    many = [{"id": f"t-{i:02d}", "output": code_mode('read_file("a.py")')} for i in range(8)]
    cases = "".join(
        f'[[case]]\nid = "t-{i:02d}"\ncategory = "text"\nprompt = "Show file number {i}."\n'
        'expected = ["read_file"]\n\n'
        for i in range(8)
    )
    (pytester.path / "cases/refactor.cases.toml").unlink()
    (pytester.path / "cases/basic.cases.toml").write_text(cases, encoding="utf-8")
    (pytester.path / "targets.toml").write_text("[targets]\n", encoding="utf-8")
    (pytester.path / "good.jsonl").write_text(replay_text(many), encoding="utf-8")
    worse = [{"id": r["id"], "output": "Open it in your editor."} for r in many]
    (pytester.path / "bad.jsonl").write_text(replay_text(worse), encoding="utf-8")
    pytester.runpytest("--codemode-backend=replay", "--codemode-replay=good.jsonl",
                       "--codemode-results=good.json")  # fmt: skip
    bad = (
        "--codemode-backend=replay",
        "--codemode-replay=bad.jsonl",
        "--codemode-baseline=good.json",
    )
    assert pytester.runpytest(*bad, "--codemode-gate").ret == 0  # no targets: the gate passes
    result = pytester.runpytest(*bad, "--codemode-gate", "--codemode-fail-on-regression")
    assert result.ret == 1
    assert "codemode gate: overall worse than the baseline" in result.outlines
    root = pytester.path
    pytester.runpytest("--codemode-backend=replay", "--codemode-replay=bad.jsonl",
                       "--codemode-results=bad.json")  # fmt: skip
    args = ["compare", str(root / "good.json"), str(root / "bad.json")]
    assert codemode_eval(args) == 0
    assert codemode_eval([*args, "--fail-on-regression"]) == 1


def test_compare_names_a_bad_file_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    assert codemode_eval(["compare", str(bad), str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        f"codemode-eval compare: {bad}: not a codemode results file: expected an object with "
        "'cases'"
    )
