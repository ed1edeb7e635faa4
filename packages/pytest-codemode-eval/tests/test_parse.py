"""parse_output: think/prose/calls from raw model text, and never an exception on any input."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_codemode_eval.code_calls import analyse_code
from pytest_codemode_eval.generation import FINISH_REASONS, Generation
from pytest_codemode_eval.parse import Parsed, ToolCall, parse_output
from pytest_codemode_eval.score import score_case
from pytest_codemode_eval.suite import Suite
from pytest_codemode_eval.verdicts import Verdict

XML_READ = (
    "<tool_call>\n<function=read_file>\n<parameter=path>\nsrc/app.py\n</parameter>\n"
    "</function>\n</tool_call>"
)
JSON_READ = '<tool_call>\n{"name": "read_file", "arguments": {"path": "src/app.py"}}\n</tool_call>'


def only_call(parsed: Parsed) -> ToolCall:
    assert len(parsed.calls) == 1, parsed
    return parsed.calls[0]


# --- think ----------------------------------------------------------------------------------


def test_think_block_is_split_from_the_answer() -> None:
    parsed = parse_output(f"<think>\nThe user wants read_file.\n</think>\n\n{JSON_READ}")
    assert parsed.think == "The user wants read_file."
    assert only_call(parsed).name == "read_file"
    assert parsed.prose == ""
    assert parsed.problems == ()


def test_close_without_opener_means_the_prompt_opened_the_think_block() -> None:
    parsed = parse_output("I should read it.\n</think>\nHere it is.")
    assert parsed.think == "I should read it."
    assert parsed.prose == "Here it is."


def test_unclosed_think_is_all_think_and_flagged() -> None:
    parsed = parse_output(f"<think>Maybe {JSON_READ} would work, but")
    assert parsed.calls == ()
    assert parsed.prose == ""
    assert parsed.think is not None
    assert parsed.think.startswith("Maybe")
    assert parsed.problems == ("think block never closed",)


def test_calls_inside_any_think_block_are_not_calls() -> None:
    parsed = parse_output(f"<think>plan</think>Checking.<think>{JSON_READ}</think>")
    assert parsed.calls == ()
    assert parsed.prose == "Checking."
    assert parsed.think is not None
    assert "plan" in parsed.think
    assert "read_file" in parsed.think


def test_no_think_block() -> None:
    parsed = parse_output("Just prose.")
    assert parsed == Parsed(None, "Just prose.", ())


# --- calls and prose ------------------------------------------------------------------------


def test_several_calls_in_order_with_both_syntaxes() -> None:
    second = '<tool_call>{"name": "typecheck", "arguments": {"path": "src/"}}</tool_call>'
    parsed = parse_output(f"{XML_READ}\n{second}")
    assert [(c.name, c.syntax) for c in parsed.calls] == [
        ("read_file", "xml"),
        ("typecheck", "json"),
    ]
    assert parsed.calls[0].arguments == {"path": "src/app.py"}
    assert parsed.calls[1].arguments == {"path": "src/"}


def test_prose_around_calls_is_kept_and_calls_removed() -> None:
    parsed = parse_output(f"Let me read it.\n{JSON_READ}\nThen I will summarise.")
    assert "Let me read it." in parsed.prose
    assert "Then I will summarise." in parsed.prose
    assert "tool_call" not in parsed.prose
    assert "read_file" not in parsed.prose
    assert only_call(parsed).complete


def test_xml_value_spanning_lines_keeps_inner_newlines_and_indentation() -> None:
    code = 'for path in ["a.py", "b.py"]:\n    print(read_file(path))\n\nprint("done")'
    text = (
        f"<tool_call>\n<function=execute_code>\n<parameter=code>\n{code}\n</parameter>\n"
        "</function>\n</tool_call>"
    )
    assert only_call(parse_output(text)).arguments == {"code": code}


def test_xml_without_newlines() -> None:
    text = (
        "<tool_call><function=git_log><parameter=path>.</parameter>"
        "<parameter=count>5</parameter></function></tool_call>"
    )
    call = only_call(parse_output(text))
    assert (call.name, call.arguments, call.problem) == (
        "git_log",
        {"path": ".", "count": "5"},
        None,
    )


def test_xml_parameter_closed_by_the_next_parameter() -> None:
    text = (
        "<tool_call><function=write_file><parameter=path>a.txt<parameter=content>hi"
        "</function></tool_call>"
    )
    assert only_call(parse_output(text)).arguments == {"path": "a.txt", "content": "hi"}


def test_xml_missing_function_close_is_a_problem() -> None:
    text = "<tool_call>\n<function=read_file>\n<parameter=path>\na\n</parameter>\n</tool_call>"
    call = only_call(parse_output(text))
    assert call.complete
    assert call.problem == "missing </function>"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            "<tool_call>\n<function=execute_code>\n<parameter=code>\nprint(read_fi", id="xml"
        ),
        pytest.param('<tool_call>\n{"name": "execute_code", "arguments": {"code": "pri', id="json"),
    ],
)
def test_unclosed_tool_call_is_incomplete_but_keeps_its_name(text: str) -> None:
    parsed = parse_output(text)
    call = only_call(parsed)
    assert call.name == "execute_code"
    assert not call.complete
    assert parsed.unterminated_call


def test_hermes_arguments_as_a_json_string() -> None:
    text = '<tool_call>{"name": "read_file", "arguments": "{\\"path\\": \\"a.py\\"}"}</tool_call>'
    call = only_call(parse_output(text))
    assert (call.arguments, call.problem) == ({"path": "a.py"}, None)


def test_hermes_parameters_key_is_accepted() -> None:
    text = '<tool_call>{"name": "read_file", "parameters": {"path": "a.py"}}</tool_call>'
    assert only_call(parse_output(text)).arguments == {"path": "a.py"}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param("", "empty tool call", id="empty"),
        pytest.param("read_file(a.py)", "neither JSON nor <function=...>", id="not-a-call"),
        pytest.param('{"name": "read_file", "arguments": {', "invalid JSON", id="bad-json"),
        pytest.param('["read_file"]', "neither JSON", id="json-list"),
        pytest.param('{"arguments": {}}', "tool call has no name", id="no-name"),
        pytest.param('{"name": "x", "arguments": [1]}', "not a JSON object", id="args-list"),
        pytest.param("<function=>", "no function name", id="xml-no-name"),
    ],
)
def test_malformed_call_bodies_report_a_problem(body: str, problem: str) -> None:
    call = only_call(parse_output(f"<tool_call>{body}</tool_call>"))
    assert call.problem is not None
    assert problem in call.problem


# --- OpenAI tool_calls ----------------------------------------------------------------------


def openai(name: str, arguments: object) -> dict[str, Any]:
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}


def test_openai_tool_calls_are_used_when_the_text_has_none() -> None:
    parsed = parse_output(
        "Reading it.", [openai("read_file", '{"path": "a.py"}'), openai("typecheck", {"path": "."})]
    )
    assert [(c.name, c.syntax, dict(c.arguments)) for c in parsed.calls] == [
        ("read_file", "openai", {"path": "a.py"}),
        ("typecheck", "openai", {"path": "."}),
    ]
    assert parsed.prose == "Reading it."


def test_openai_tool_calls_are_ignored_when_the_text_has_a_call() -> None:
    parsed = parse_output(JSON_READ, [openai("typecheck", '{"path": "."}')])
    assert [(c.name, c.syntax) for c in parsed.calls] == [("read_file", "json")]


def test_openai_entry_that_is_not_an_object_is_a_problem() -> None:
    assert only_call(parse_output("", [42])).problem == "tool_calls entry is not an object"


# --- never raises ---------------------------------------------------------------------------

FRAGMENTS = [
    "<tool_call>",
    "</tool_call>",
    "<function=",
    "<function=execute_code>",
    "<function=read_file>",
    "</function>",
    "<parameter=",
    "<parameter=code>",
    "<parameter=path>",
    "</parameter>",
    "<think>",
    "</think>",
    "{",
    "}",
    "[",
    '"name"',
    '"arguments"',
    ":",
    ",",
    '"',
    "\\",
    "\n",
    ">",
    "execute_code",
    "read_file",
    'read_file("src/agent/config.py")',
    "print(",
    ")",
    "def read_file(p):\n    pass\n",
    "# ",
    "\x00",
    "\u2028",
]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
JSON_CALLS = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["execute_code", "read_file", "git_log", ""]) | st.text(),
        "arguments": JSON_VALUES | JSON_VALUES.map(json.dumps),
    }
).map(json.dumps)
MODEL_TEXT = st.one_of(
    st.text(),
    st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=8) | JSON_CALLS, max_size=25).map(
        "".join
    ),
    st.lists(st.sampled_from(FRAGMENTS) | JSON_VALUES.map(json.dumps), max_size=25).map("".join),
)
ANY_OBJECT = st.one_of(
    JSON_VALUES,
    st.builds(object),
    st.binary(),
    st.lists(st.fixed_dictionaries({"function": JSON_VALUES}) | JSON_VALUES, max_size=4),
    st.lists(st.builds(openai, st.text(max_size=12), JSON_VALUES | JSON_CALLS), max_size=3),
)

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_clean(parsed: Parsed) -> None:
    assert isinstance(parsed, Parsed)
    assert not any(problem.startswith("parser error:") for problem in parsed.problems), parsed
    assert all(isinstance(call, ToolCall) for call in parsed.calls)


@pytest.mark.slow
@FAST
@given(MODEL_TEXT)
def test_parse_output_never_fails_on_any_text(text: str) -> None:
    assert_clean(parse_output(text))


@pytest.mark.slow
@FAST
@given(text=MODEL_TEXT | ANY_OBJECT, tool_calls=ANY_OBJECT)
def test_parse_output_never_fails_on_any_inputs(text: object, tool_calls: Any) -> None:
    assert_clean(parse_output(text, tool_calls))


@pytest.mark.parametrize(
    "text", [None, b"<tool_call>", 42, ["<tool_call>"]], ids=["none", "bytes", "int", "list"]
)
def test_non_text_output_is_empty(text: object) -> None:
    assert parse_output(text) == Parsed(None, "", ())


@FAST
@given(st.text() | st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join))
def test_analyse_code_never_raises(code: str) -> None:
    analysis = analyse_code(code)
    assert analysis.syntax_error is None or not analysis.calls


@pytest.mark.slow
@FAST
@given(
    case_index=st.integers(0, 26),
    text=MODEL_TEXT,
    finish=st.sampled_from(FINISH_REASONS),
    server=ANY_OBJECT,
    seconds=st.floats(0, 1e6),
)
def test_score_case_never_raises_and_stays_in_range(
    suite: Suite, case_index: int, text: str, finish: Any, server: Any, seconds: float
) -> None:
    case = suite.cases[case_index]
    generation = Generation(text, seconds, finish, server_tool_calls=server)
    score = score_case(case, suite.catalog, generation, parse_output(text, server))
    assert 0.0 <= score.value <= 1.0
    assert isinstance(score.verdict, Verdict)
    assert score.note
    assert len(score.note.splitlines()) == 1


def _code_call(code: str) -> str:
    call = {"name": "execute_code", "arguments": {"code": code}}
    return f"<tool_call>{json.dumps(call)}</tool_call>"


# The chat template's own markup is in-band: code that contains it cannot be told apart.
MARKUP = ("<tool_call>", "</tool_call>", "<think>", "</think>")
CODE_TEXT = st.text(max_size=8).filter(lambda t: not any(m in t for m in MARKUP))
CODE_FRAGMENTS = [fragment for fragment in FRAGMENTS if fragment not in MARKUP]


@pytest.mark.slow
@FAST
@given(code=st.lists(st.sampled_from(CODE_FRAGMENTS) | CODE_TEXT, max_size=20).map("".join))
def test_score_case_on_any_code_mode_code(suite: Suite, code: str) -> None:
    """Arbitrary code inside a well-formed execute_code call: never the credit of a direct call."""
    case = next(c for c in suite.cases if c.id == "text-01")
    text = _code_call(code)
    score = score_case(case, suite.catalog, Generation(text), parse_output(text))
    assert score.value in {0.0, 0.5, 1.0}


def test_fixture_suite_has_the_27_cases(suite: Suite) -> None:
    """The property tests above index the suite's cases 0..26."""
    assert len(suite.cases) == 27


def test_a_single_openai_call_object_instead_of_a_list() -> None:
    tool_calls: Mapping[str, Any] = openai("read_file", '{"path": "a"}')
    call = only_call(parse_output("", tool_calls))  # type: ignore[arg-type]
    assert (call.name, call.arguments, call.problem) == ("read_file", {"path": "a"}, None)


@pytest.mark.parametrize(
    "tool_calls", [42, object(), "read_file", b"x"], ids=["int", "object", "str", "bytes"]
)
def test_openai_tool_calls_that_are_not_a_list_are_a_problem(tool_calls: object) -> None:
    assert only_call(parse_output("", tool_calls)).problem == "tool_calls is not a list"  # type: ignore[arg-type]
