"""parse_output + score_case never raise: each input below once did, or is a relative of one.

The first was `git_log(f"{d['\\u2028']}")`: valid Python whose `ast.unparse` raises. Every crash
found is a case here (input -> the verdict it now gets); the hypothesis properties at the end look
for the next one, and fuzz/fuzz_scoring.py does so at scale.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_codemode_eval.code_calls import MAX_CODE_CHARS, MAX_NODES, Unresolved, analyse_code
from pytest_codemode_eval.generation import Generation
from pytest_codemode_eval.parse import Parsed, parse_output
from pytest_codemode_eval.score import score_case
from pytest_codemode_eval.suite import Suite
from pytest_codemode_eval.verdicts import Score, Verdict, one_line

HUGE_HEX = "0x" + "f" * 5000  # an int past Python's 4300-digit str conversion limit


def code_call(code: str) -> str:
    call = {"name": "execute_code", "arguments": {"code": code}}
    return f"<tool_call>{json.dumps(call)}</tool_call>"


def direct_call(name: str, arguments: str) -> str:
    return f'<tool_call>{{"name": "{name}", "arguments": {arguments}}}</tool_call>'


def score(suite: Suite, case_id: str, text: str) -> Score:
    case = next(case for case in suite.cases if case.id == case_id)
    parsed = parse_output(text)
    assert_no_safety_net(parsed)
    result = score_case(case, suite.catalog, Generation(text), parsed)
    assert not result.note.startswith("Scorer error"), result
    return result


def assert_no_safety_net(parsed: Parsed) -> None:
    assert not any(problem.startswith("parser error") for problem in parsed.problems), parsed


@pytest.mark.parametrize(
    ("text", "verdict", "note"),
    [
        pytest.param(
            code_call("git_log('.', count=f\"{d['\u2028']}\")"),
            Verdict.BAD_ARGUMENTS,
            "git_log: count=<f-string on line 1> is only known at run time, expected 5",
            id="unparse-fstring-u2028",
        ),
        pytest.param(
            code_call(f"git_log('.', count={HUGE_HEX} + 1)"),
            Verdict.BAD_ARGUMENTS,
            "git_log: count=<expression on line 1> is only known at run time, expected 5",
            id="unparse-huge-int",
        ),
        pytest.param(
            code_call(f"git_log('.', count={HUGE_HEX})"),
            Verdict.BAD_ARGUMENTS,
            "git_log: count=<int too large to show>, expected 5",
            id="repr-huge-int-pin",
        ),
        pytest.param(
            code_call(f"n = {HUGE_HEX}\ngit_log('.', count=n)"),
            Verdict.BAD_ARGUMENTS,
            "git_log: count=<int too large to show>, expected 5",
            id="repr-huge-int-constant",
        ),
        pytest.param(
            direct_call("git_log", '{"path": ".", "count": ' + "[" * 800 + "]" * 800 + "}"),
            Verdict.BAD_ARGUMENTS,
            "git_log: arguments are nested too deeply to compare",
            id="deep-json-pin",
        ),
        pytest.param(
            code_call("git_log('.', count=" + "-" * 19_000 + "1)"),
            Verdict.MALFORMED,
            "execute_code code does not parse (nested too deeply)",
            id="parser-stack-overflow",
        ),
        pytest.param(
            code_call("git_log('.', count=a" + ".b" * 9_000 + ")"),
            Verdict.MALFORMED,
            "execute_code code does not parse (nested too deeply)",
            id="parser-recursion",
        ),
        pytest.param(
            code_call("git_log('.', count=5)\n#" + "x" * MAX_CODE_CHARS),
            Verdict.MALFORMED,
            f"execute_code code too long to analyse (over {MAX_CODE_CHARS:,} chars)",
            id="code-too-long",
        ),
        pytest.param(
            code_call("git_log('.', count=5)\n#" + "x" * (MAX_CODE_CHARS // 2)) * 2,
            Verdict.MALFORMED,
            f"execute_code code too long to analyse (over {MAX_CODE_CHARS:,} chars)",
            id="code-too-long-in-all",
        ),
    ],
)
def test_output_that_crashed_the_scorer_gets_a_verdict(
    suite: Suite, text: str, verdict: Verdict, note: str
) -> None:
    result = score(suite, "git-03", text)
    assert (result.verdict, result.note) == (verdict, note)


def test_nested_calls_name_their_large_arguments_instead_of_unparsing_them() -> None:
    """Unparsing each argument of f(f(f(...))) was quadratic: 727 characters took 300 ms."""
    calls = analyse_code("f(" * 150 + ")" * 150).calls
    assert len(calls) == 150
    assert calls[1].args == (Unresolved("f()"),)
    assert calls[-1].args == (Unresolved("<expression on line 1>"),)


def test_code_with_too_many_nodes_is_not_analysed() -> None:
    analysis = analyse_code("x = [" + "1," * MAX_NODES + "]")
    assert analysis.syntax_error == f"too complex to analyse: over {MAX_NODES:,} nodes"


def test_analyse_code_reads_no_more_than_its_limit() -> None:
    analysis = analyse_code("x" * 11, max_chars=10)
    assert analysis.syntax_error == "too long to analyse: 11 characters, limit 10"


def test_a_note_reads_only_the_start_of_a_huge_name() -> None:
    """A tool name of a million form feeds made one_line walk a million lines (100 ms)."""
    assert one_line("Wrong tool: " + "\x0c" * 1_000_000 + "x") == "Wrong tool:"
    assert one_line("a\n b\n" + "c" * 1000) == "a b " + "c" * 295 + "…"


def test_unparse_crash_is_an_unresolved_argument() -> None:
    (call,) = analyse_code("git_log(f\"{d['\u2028']}\")").calls
    assert call.args == (Unresolved("<f-string on line 1>"),)


@pytest.mark.parametrize(
    "code",
    [
        "git_log(f'{x!r:>{w}}', count=5)",
        "git_log((p := '.'), count=5)",
        "match x:\n    case {'a': b}:\n        git_log(b, count=5)",
        "git_log(b'.', count=5)",
        "git_log({[1]}, count=5)",
        "git_log(..., count=5)",
    ],
    ids=["fstring-format-spec", "walrus", "match", "bytes", "unhashable-set", "ellipsis"],
)
def test_unusual_but_valid_code_still_finds_the_call(suite: Suite, code: str) -> None:
    assert score(suite, "git-03", code_call(code)).tools_called == ("git_log",)


@pytest.mark.parametrize(
    "code",
    ["git_log('.\x00', count=5)", "git_log('\ud800', count=5)", "def f[T](x): pass"],
    ids=["null-byte", "lone-surrogate", "3.12-syntax"],
)
def test_code_python_cannot_read_is_malformed(suite: Suite, code: str) -> None:
    assert score(suite, "git-03", code_call(code)).verdict is Verdict.MALFORMED


# --- properties -----------------------------------------------------------------------------

MARKUP = [
    "<tool_call>",
    "</tool_call>",
    "<function=execute_code>",
    "<function=git_log>",
    "<function=",
    "</function>",
    "<parameter=code>",
    "<parameter=count>",
    "<parameter=",
    "</parameter>",
    "<think>",
    "</think>",
    '{"name": "execute_code", "arguments": {"code": "',
    '{"name": "git_log", "arguments": {"path": ".", "count": ',
    '"}}',
    "}",
    "git_log('.', count=5)",
    "git_log(f\"{d['\u2028']}\")",
    f"git_log(count={HUGE_HEX})",
    "[" * 300,
    "(" * 300,
    "\\u2028",
    "\\ud800",
    "\u2028",
    "\u0085",
    "\x00",
    "\r",
    "\n",
    '"',
    "'",
    "\\",
    "`",
]
MARKUP_TEXT = st.lists(st.sampled_from(MARKUP) | st.text(max_size=6), max_size=40).map("".join)
CODE = st.lists(st.sampled_from(MARKUP[16:]) | st.text(max_size=6), max_size=20).map("".join)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_scored(suite: Suite, case_index: int, text: str, finish: str = "stop") -> None:
    case = suite.cases[case_index]
    parsed = parse_output(text)
    assert_no_safety_net(parsed)
    result = score_case(case, suite.catalog, Generation(text, finish=finish), parsed)  # type: ignore[arg-type]
    assert not result.note.startswith("Scorer error"), result
    assert 0.0 <= result.value <= 1.0
    assert len(result.note.splitlines()) == 1


@pytest.mark.slow
@PROPERTY
@given(case_index=st.integers(0, 26), text=st.text())
def test_any_text_is_scored(suite: Suite, case_index: int, text: str) -> None:
    assert_scored(suite, case_index, text)


@pytest.mark.slow
@PROPERTY
@given(case_index=st.integers(0, 26), text=MARKUP_TEXT, finish=st.sampled_from(["stop", "length"]))
def test_any_markup_is_scored(suite: Suite, case_index: int, text: str, finish: str) -> None:
    assert_scored(suite, case_index, text, finish)


@pytest.mark.slow
@PROPERTY
@given(case_index=st.integers(0, 26), code=CODE, xml=st.booleans())
def test_any_code_mode_code_is_scored(suite: Suite, case_index: int, code: str, xml: bool) -> None:
    text = (
        f"<tool_call><function=execute_code><parameter=code>{code}</parameter></function>"
        "</tool_call>"
        if xml
        else code_call(code)
    )
    assert_scored(suite, case_index, text)
